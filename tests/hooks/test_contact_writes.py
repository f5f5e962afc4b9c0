"""Creating, changing and deleting contacts through the hook, over HTTP against the sandbox."""

from __future__ import annotations

import pytest

from airflow_provider_callbell.exceptions import CallbellClientError, CallbellNotFoundError
from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.conftest import quick_hook


def test_create_then_find_by_number(sandbox: CallbellSandbox) -> None:
    hook = quick_hook()
    team = sandbox.teams[0]["uuid"]

    created = hook.create_contact(
        "+39 351 000 1111", name="Nuova", tags=["hot"], custom_fields={"score": "87"}, team_uuid=team
    )

    assert hook.get_contact_by_phone("+393510001111")["uuid"] == created["uuid"]
    stored = sandbox.get_contact(created["uuid"])
    assert (stored["name"], stored["tags"], stored["team"]["uuid"]) == ("Nuova", ["hot"], team)
    assert stored["customFields"]["score"] == "87"
    assert sandbox.contacts()[0]["uuid"] == created["uuid"]


def test_a_taken_number_is_a_409(sandbox: CallbellSandbox) -> None:
    taken = sandbox.contacts()[5]["phoneNumber"]

    with pytest.raises(CallbellClientError) as raised:
        quick_hook().create_contact(taken, name="Twin")

    assert raised.value.status == 409


def test_update_sets_what_is_given_and_keeps_the_rest(sandbox: CallbellSandbox) -> None:
    contact = sandbox.contacts()[3]
    hook = quick_hook()

    hook.update_contact(contact["uuid"], tags=["hot"], custom_fields={"score": "99"}, note="called")
    hook.update_contact(contact["uuid"], unassign_user=True)

    stored = sandbox.get_contact(contact["uuid"])
    assert (stored["tags"], stored["note"], stored["assignedUser"]) == (["hot"], "called", None)
    assert stored["customFields"] == {**contact["customFields"], "score": "99"}
    assert stored["name"] == contact["name"]


def test_delete(sandbox: CallbellSandbox) -> None:
    uuid = sandbox.contacts()[0]["uuid"]
    hook = quick_hook()

    hook.delete_contact(uuid)

    with pytest.raises(CallbellNotFoundError):
        hook.get_contact(uuid)
    with pytest.raises(CallbellNotFoundError):
        hook.delete_contact(uuid)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "at least one change"),
        ({"tagz": ["x"]}, "contact changes must be among .*tags.* got tagz"),
        ({"tags": "a,,b"}, "tags must be non-blank"),
        (
            {"custom_fields": {"score": {"a": 1}}},
            r"custom_fields\['score'\] must be text, a finite int",
        ),
        (
            {"custom_fields": {"score": float("nan")}},
            r"custom_fields\['score'\] must be text, a finite int",
        ),
        ({"custom_fields": {"": "x"}}, "custom_fields must map field names"),
        ({"note": "x" * 1001}, "note must hold at most 1000"),
        ({"assigned_user": "a@b.c", "unassign_user": True}, "contradict"),
        ({"team_uuid": "../auth/me"}, "team_uuid must be a Callbell identifier"),
    ],
)
def test_bad_changes_are_refused_before_any_request(
    sandbox: CallbellSandbox, changes: dict[str, object], message: str
) -> None:
    uuid = sandbox.contacts()[0]["uuid"]
    sandbox.reset_stats()

    with pytest.raises(ValueError, match=message):
        quick_hook().update_contact(uuid, **changes)

    assert sandbox.stats.total_requests == 0


def test_custom_field_numbers_are_written_as_upsert_rows_write_them(sandbox: CallbellSandbox) -> None:
    uuid = sandbox.contacts()[0]["uuid"]
    quick_hook().update_contact(uuid, custom_fields={"score": 91.0, "rate": 1e-07, "tags": ("a", "b")})
    fields = sandbox.get_contact(uuid)["customFields"]
    assert (fields["score"], fields["rate"], fields["tags"]) == ("91", "0.0000001", '["a", "b"]')


@pytest.mark.parametrize("blank", ["   ", "\u200b\n"])
def test_a_note_that_shows_nothing_clears_it_as_upsert_rows_do(sandbox: CallbellSandbox, blank: str) -> None:
    uuid = sandbox.contacts()[0]["uuid"]
    quick_hook().update_contact(uuid, note="called")

    updated = quick_hook().update_contact(uuid, note=blank)

    assert not (updated.get("note") or "").strip()
    assert quick_hook().get_contact(uuid).get("note") in ("", None)


@pytest.mark.parametrize("source", ["WhatsApp", "web-chat"])
def test_a_created_contacts_source_is_a_channel_type_as_everywhere(
    sandbox: CallbellSandbox, source: str
) -> None:
    sandbox.reset_stats()
    with pytest.raises(ValueError, match="source must be a channel type in lowercase"):
        quick_hook().create_contact("+39 333 000 9999", name="Ada", source=source)
    assert sandbox.stats.total_requests == 0
