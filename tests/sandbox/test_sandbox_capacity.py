"""The account is bounded: contacts past ``contact_capacity`` are refused, messages past
``message_capacity`` forget the oldest, whichever way they arrive."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_callbell.sandbox import SandboxSettings
from airflow_provider_callbell.sandbox.__main__ import main
from tests.sandbox.client import ApiClient
from tests.sandbox.test_sandbox_messages import approved, reachable, sent_uuid, template_to, text_to

if TYPE_CHECKING:
    from tests.sandbox.conftest import MakeSandbox

LIMIT_REACHED = {"error": "Contact limit reached: the account holds as many contacts as it can"}


def _new(n: int) -> dict[str, Any]:
    return {"identifier": f"+1 202 555 01{n:02}", "source": "whatsapp", "name": f"New {n}"}


def test_contacts_past_the_capacity_are_refused_until_one_is_deleted(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=3, contact_capacity=4, seed=2)
    api = ApiClient(sandbox)
    template = approved(sandbox, 1)
    assert api.post("/contacts", _new(1)).status_code == 200

    created = api.post("/contacts", _new(2))
    sent = api.post("/messages/send", template_to({"phoneNumber": "+1 202 555 0199"}, template, ["hi"]))
    with pytest.raises(ValueError, match="holds 4 contacts"):
        sandbox.add_contact(name="Direct")
    assert sandbox.apply_events(0) == []
    with sandbox.events_paused():
        sandbox.configure(event_mix={"create": 1})
        created_by_events = sandbox.apply_events(3)

    assert (created.status_code, created.json()) == (422, LIMIT_REACHED)
    assert (sent.status_code, sent.json()) == (422, LIMIT_REACHED)
    assert created_by_events == []
    assert len(sandbox.contacts()) == 4
    assert sandbox.messages() == []
    sandbox.delete_contact(sandbox.contacts()[-1]["uuid"])
    assert api.post("/contacts", _new(2)).status_code == 200
    assert sandbox.contacts()[0]["name"] == "New 2"


def test_messages_past_the_capacity_forget_the_oldest(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=20, seed=8, message_capacity=3)
    api = ApiClient(sandbox)
    first, second = reachable(sandbox, 0), reachable(sandbox, 1)  # two inbound messages
    uuids = [sent_uuid(api, text_to(contact, f"#{n}")) for n, contact in enumerate([first, second, first])]

    assert [api.get(f"/messages/status/{uuid}").status_code for uuid in uuids] == [200, 200, 200]
    assert [m["uuid"] for m in sandbox.messages() if m["direction"] == "outbound"] == uuids
    assert len(sandbox.messages()) == 3
    assert [m["uuid"] for m in api.get(f"/contacts/{first['uuid']}/messages").json()["messages"]] == [
        uuids[2],
        uuids[0],
    ]
    later = sent_uuid(api, text_to(second, "#3"))
    assert api.get(f"/messages/status/{uuids[0]}").status_code == 404
    assert [m["uuid"] for m in sandbox.messages()] == [*uuids[1:], later]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"contacts": 11, "contact_capacity": 10}, "contacts must be <= contact_capacity (10), got 11"),
        ({"contact_capacity": -1}, "contact_capacity must be >= 0"),
        ({"contact_capacity": 10_000_001}, "contact_capacity must be <= 10,000,000"),
        ({"contact_capacity": 1.5}, "contact_capacity must be an integer"),
        ({"message_capacity": 0}, "message_capacity must be >= 1"),
        ({"message_capacity": True}, "message_capacity must be an integer"),
    ],
)
def test_capacity_settings_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SandboxSettings(**changes)


@pytest.mark.parametrize("name", ["contact_capacity", "message_capacity"])
def test_capacities_cannot_change_while_running(make_sandbox: MakeSandbox, name: str) -> None:
    sandbox = make_sandbox(contacts=3)

    with pytest.raises(ValueError, match=f"{name} cannot change after creation"):
        sandbox.configure(**{name: 5})


def test_the_command_line_checks_the_capacities(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--contacts", "20", "--contact-capacity", "10"])

    assert caught.value.code == 2
    assert "contacts must be <= contact_capacity (10), got 20" in capsys.readouterr().err
