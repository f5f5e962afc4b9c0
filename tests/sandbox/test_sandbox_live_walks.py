"""Cursor walks over a list that moves between requests: keyset and snapshot semantics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.sandbox.client import ApiClient, uuids

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox import AccountState, CallbellSandbox
    from tests.sandbox.conftest import MakeSandbox


def shake(sandbox: CallbellSandbox, order: list[str]) -> dict[str, Any]:
    """Change the list after the first page of 10 was read; returns the new contact."""
    sandbox.update_contact(order[3], touch=True)  # read already, moves to the top
    sandbox.update_contact(order[25], touch=True)  # not read yet, moves to the top
    sandbox.update_contact(order[20], tags=["vip"])  # not read yet, keeps its place
    sandbox.delete_contact(order[15])  # not read yet
    sandbox.delete_contact(order[9])  # the last contact returned
    return sandbox.add_contact(name="Walk-in", source="whatsapp")


def shaken_walk(sandbox: CallbellSandbox) -> tuple[list[str], dict[str, Any], list[dict[str, Any]]]:
    """Walk by cursor, shaking the list after the first page: (order before, second page, walked)."""
    client = ApiClient(sandbox)
    order = uuids(sandbox.contacts())
    first = client.get("/contacts").json()
    shake(sandbox, order)
    second = client.get("/contacts", after=first["meta"]["next"]).json()
    rest = client.walk_cursor(after=second["meta"]["next"])
    return order, second, first["contacts"] + second["contacts"] + rest


def test_keyset_walk_continues_below_the_last_contact_among_older_ones(make_sandbox: MakeSandbox) -> None:
    order, _, walked = shaken_walk(make_sandbox(contacts=30, page_size=10))

    assert uuids(walked) == order[:15] + order[16:25] + order[26:]
    assert {tag.lower() for tag in walked[19]["tags"]} == {"vip"}


def test_snapshot_walk_reads_the_list_as_it_began(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=30, page_size=10, cursor_semantics="snapshot")
    order, second, walked = shaken_walk(sandbox)

    assert uuids(walked) == order[:15] + order[16:]
    assert walked[19:24] == [sandbox.get_contact(uuid) for uuid in order[20:25]]
    assert walked[24] == sandbox.get_contact(order[25]), "a moved contact keeps its place, body as now"
    assert (second["meta"]["page"], second["meta"]["pages"]) == (2, 3)


def test_snapshot_walk_begins_at_any_page_number(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=50, page_size=10, cursor_semantics="snapshot")
    client = ApiClient(sandbox)
    order = uuids(sandbox.contacts())
    page3 = client.get("/contacts", page=3).json()

    sandbox.update_contact(order[45], touch=True)
    sandbox.add_contact(name="Walk-in")
    rest = client.walk_cursor(after=page3["meta"]["next"])

    assert uuids(page3["contacts"] + rest) == order[20:]


def test_snapshot_walk_over_a_filter_keeps_its_members(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=200, page_size=5, cursor_semantics="snapshot")
    client = ApiClient(sandbox)
    leads = uuids(client.walk_cursor(tags="lead"))
    first = client.get("/contacts", tags="lead").json()

    sandbox.update_contact(leads[-1], tags=[])
    rest = client.walk_cursor(after=first["meta"]["next"], tags="lead")

    assert uuids(first["contacts"] + rest) == leads
    assert rest[-1]["tags"] == []


def test_a_walk_keeps_its_semantics_when_the_setting_changes(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=30, page_size=10, cursor_semantics="snapshot")
    client = ApiClient(sandbox)
    order = uuids(sandbox.contacts())
    first = client.get("/contacts").json()

    sandbox.configure(cursor_semantics="keyset")
    sandbox.update_contact(order[25], touch=True)

    assert uuids(first["contacts"] + client.walk_cursor(after=first["meta"]["next"])) == order


def test_evicted_snapshot_answers_invalid_cursor(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=30, page_size=10, cursor_semantics="snapshot")
    client = ApiClient(sandbox)
    cursor = client.get("/contacts").json()["meta"]["next"]

    for _ in range(64):  # each change, then a walk over the changed list
        sandbox.update_contact(sandbox.contacts()[-1]["uuid"], touch=True)
        assert client.get("/contacts").status_code == 200
    response = client.get("/contacts", after=cursor)

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid pagination cursor"}


def test_snapshot_cursor_with_other_filters_is_invalid(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=100, page_size=10, cursor_semantics="snapshot")
    client = ApiClient(sandbox)
    cursor = client.get("/contacts", source="whatsapp").json()["meta"]["next"]

    assert client.get("/contacts", after=cursor, source="whatsapp").status_code == 200
    response = client.get("/contacts", after=cursor, source="telegram")

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid pagination cursor"}


# Walks under live events: exact ground truth from the event log.

Pages = list[tuple["AccountState", list[str]]]


def walk_with_events(sandbox: CallbellSandbox, per_page: int) -> Pages:
    """Walk by cursor, applying ``per_page`` events after every page.

    Returns each page's uuids with the state it was served in, after checking
    that the page shows its contacts' tags as they were at that moment.
    """
    client = ApiClient(sandbox)
    pages: Pages = []
    after: str | None = None
    while True:
        now = sandbox.state()
        payload = client.get("/contacts", **({"after": after} if after else {})).json()
        for contact in payload["contacts"]:
            assert {tag.lower() for tag in contact["tags"]} == now.tags_of(contact["uuid"])
        pages.append((now, uuids(payload["contacts"])))
        after = payload["meta"]["next"]
        if after is None:
            return pages
        sandbox.apply_events(per_page)


@pytest.mark.parametrize("semantics", ["keyset", "snapshot"])
def test_walk_under_events_matches_the_event_log(make_sandbox: MakeSandbox, semantics: str) -> None:
    sandbox = make_sandbox(contacts=300, page_size=20, seed=3, cursor_semantics=semantics)
    start = sandbox.state()

    pages = walk_with_events(sandbox, per_page=5)

    log = sandbox.events()
    # Keyset walks skip contacts that moved before being reached; snapshot walks do not.
    skips_moved = semantics == "keyset"

    def gone(state: AccountState) -> set[str]:
        """The contacts a walk no longer reads once ``state`` is reached."""
        changed = log[start.events : state.events]
        return {e.uuid for e in changed if e.kind == "delete" or (skips_moved and e.moved)}

    position = {uuid: index for index, uuid in enumerate(start.order)}
    walked = [uuid for _, page in pages for uuid in page]
    assert len(log) - start.events == 5 * (len(pages) - 1) > 50
    assert {e.kind for e in log} == {"message", "create", "delete", "tag_add", "tag_remove"}
    assert walked == sorted(walked, key=position.__getitem__), "no new contact, start order, no repeat"
    assert len(walked) == len(set(walked))
    for state, page in pages:
        assert not set(page) & gone(state)
    for missing in set(start.order) - set(walked):
        passed = next(
            (state for state, page in pages if any(position[uuid] > position[missing] for uuid in page)),
            pages[-1][0],
        )
        assert missing in gone(passed), "a contact is skipped only when it went before the walk passed it"
    moved = {e.uuid for e in log if e.moved} & set(start.order)
    assert moved
    assert bool(moved - set(walked)) is skips_moved
