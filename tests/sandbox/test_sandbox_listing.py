"""GET /contacts: the filters, the three pagination modes, the cap and page drift."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest

from tests.sandbox.client import ApiClient, uuids

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox import CallbellSandbox
    from tests.sandbox.conftest import MakeSandbox


def lowered_tags(contact: dict[str, Any]) -> set[str]:
    return {tag.lower() for tag in contact["tags"]}


def team_uuid(contact: dict[str, Any]) -> str | None:
    return (contact.get("team") or {}).get("uuid")


# Filters


def test_source_filter_ignores_case(client: ApiClient, shared_sandbox: CallbellSandbox) -> None:
    expected = [c for c in shared_sandbox.contacts() if c["source"] == "instagram"]

    walked = client.walk_cursor(source="Instagram")

    assert expected
    assert walked == expected


def test_tags_match_any_by_default(client: ApiClient, shared_sandbox: CallbellSandbox) -> None:
    wanted = {"lead", "vip"}
    expected = [c for c in shared_sandbox.contacts() if lowered_tags(c) & wanted]

    walked = client.walk_cursor(tags=" LEAD , Vip,")

    assert any(not wanted <= lowered_tags(c) for c in expected)
    assert walked == expected


def test_tags_can_mean_all(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=400, seed=42, tags_semantics="all")
    wanted = {"lead", "customer"}
    expected = [c for c in sandbox.contacts() if wanted <= lowered_tags(c)]

    walked = ApiClient(sandbox).walk_cursor(tags="Lead,CUSTOMER")

    assert expected
    assert walked == expected


def test_team_filter(client: ApiClient, shared_sandbox: CallbellSandbox) -> None:
    team = shared_sandbox.teams[2]["uuid"]
    expected = [c for c in shared_sandbox.contacts() if team_uuid(c) == team]

    assert expected
    assert client.walk_cursor(team_uuid=team) == expected


def test_filters_combine(client: ApiClient, shared_sandbox: CallbellSandbox) -> None:
    expected = [
        c for c in shared_sandbox.contacts() if c["source"] == "whatsapp" and "lead" in lowered_tags(c)
    ]

    assert expected
    assert client.walk_pages(source="whatsapp", tags="lead") == expected


def test_unknown_parameters_are_ignored(client: ApiClient) -> None:
    assert client.get("/contacts", sort="name", per_page=100).json() == client.get("/contacts").json()


@pytest.mark.parametrize("flag", ["true", "True", "1"])
def test_field_types_on_request(client: ApiClient, flag: str) -> None:
    plain = client.get("/contacts").json()["contacts"]
    typed = client.get("/contacts", include_field_types=flag).json()["contacts"]

    metadata = [contact.pop("customFieldsMetadata") for contact in typed]
    assert typed == plain
    for contact, fields in zip(plain, metadata, strict=True):
        assert {name: entry["value"] for name, entry in fields.items()} == contact["customFields"]
    entries = [entry for fields in metadata for entry in fields.values()]
    assert {"text", "email", "number", "date", "dropdown", "checkbox"} <= {e["type"] for e in entries}
    assert all("options" in e for e in entries if e["type"] in ("dropdown", "checkbox"))


@pytest.mark.parametrize("flag", ["false", "0", "yes"])
def test_field_types_off(client: ApiClient, flag: str) -> None:
    contacts = client.get("/contacts", include_field_types=flag).json()["contacts"]

    assert not any("customFieldsMetadata" in c for c in contacts)


# Pagination modes


def test_pages_mode_answers_contacts_only(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=45, pagination="pages", page_size=10)
    client = ApiClient(sandbox)
    first = client.get("/contacts").json()

    assert list(first) == ["contacts"]
    assert client.get("/contacts", page=1, after="anything").json() == first
    assert client.walk_pages() == sandbox.contacts()
    assert client.get("/contacts", page=6).json() == {"contacts": []}


def test_meta_mode_counts_pages(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=45, pagination="meta", page_size=10)
    client = ApiClient(sandbox)

    for page in (1, 5, 6):
        payload = client.get("/contacts", page=page).json()
        assert payload["meta"] == {"page": page, "pages": 5}
    assert client.get("/contacts", page=6).json()["contacts"] == []
    assert client.get("/contacts", page=2, after="ignored").json()["meta"]["page"] == 2
    assert client.walk_pages() == sandbox.contacts()


@pytest.mark.parametrize(("contacts", "page_size"), [(45, 10), (40, 10), (3, 20), (0, 20), (61, 1)])
def test_cursor_walk_returns_every_contact_once(
    make_sandbox: MakeSandbox, contacts: int, page_size: int
) -> None:
    sandbox = make_sandbox(contacts=contacts, page_size=page_size, page_cap=None)
    client = ApiClient(sandbox)

    walked = client.walk_cursor()

    assert walked == sandbox.contacts()
    last = client.get("/contacts", page=max(1, math.ceil(contacts / page_size))).json()
    assert last["meta"]["next"] is None


def test_cursor_meta_counts_pages_of_the_walk(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=45, page_size=10)
    client = ApiClient(sandbox)
    first = client.get("/contacts").json()["meta"]

    second = client.get("/contacts", after=first["next"], page=5).json()["meta"]

    assert (first["page"], first["pages"]) == (1, 5)
    assert (second["page"], second["pages"]) == (2, 5)
    assert client.get("/contacts", page=6).json() == {
        "contacts": [],
        "meta": {"page": 6, "pages": 5, "next": None},
    }


def test_page_requests_in_cursor_mode_carry_a_cursor(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=45, page_size=10)
    client = ApiClient(sandbox)

    page3 = client.get("/contacts", page=3).json()
    rest = client.get("/contacts", after=page3["meta"]["next"]).json()

    assert uuids(rest["contacts"]) == uuids(sandbox.contacts()[30:40])


def test_cursor_walk_excludes_contacts_added_after_it_started(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=30, page_size=10)
    client = ApiClient(sandbox)
    before = sandbox.contacts()
    first = client.get("/contacts").json()

    late = sandbox.add_contact(name="Late Lead", source="whatsapp", tags=["lead"])
    second = client.get("/contacts", after=first["meta"]["next"]).json()
    walked = first["contacts"] + second["contacts"] + client.walk_cursor(after=second["meta"]["next"])

    assert walked == before
    assert (second["meta"]["page"], second["meta"]["pages"]) == (2, 3)
    assert client.walk_cursor()[0] == late


def test_cursor_walk_over_a_filter(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=200, page_size=7)
    expected = [c for c in sandbox.contacts() if c["source"] == "whatsapp"]

    assert ApiClient(sandbox).walk_cursor(source="whatsapp") == expected


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "eyJzIjogMX0", "W10"])
def test_malformed_cursor(client: ApiClient, cursor: str) -> None:
    response = client.get("/contacts", after=cursor)

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid pagination cursor"}


# Page numbers


@pytest.mark.parametrize("pagination", ["pages", "meta", "cursor"])
def test_page_cap(make_sandbox: MakeSandbox, pagination: str) -> None:
    sandbox = make_sandbox(contacts=100, page_size=10, page_cap=3, pagination=pagination)
    client = ApiClient(sandbox)

    assert client.get("/contacts", page=3).status_code == 200
    response = client.get("/contacts", page=4)

    assert response.status_code == 400
    assert response.json() == {"error": "Pagination limit exceeded"}


def test_cursor_reads_past_the_page_cap(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=100, page_size=10, page_cap=3)
    client = ApiClient(sandbox)

    page3 = client.get("/contacts", page=3).json()

    assert page3["contacts"] + client.walk_cursor(after=page3["meta"]["next"]) == sandbox.contacts()[20:]


def test_no_page_cap(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=10, page_cap=None)

    response = ApiClient(sandbox).get("/contacts", page=10**6)

    assert response.status_code == 200
    assert response.json()["contacts"] == []


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "", " 2", "٣"])
def test_invalid_page(client: ApiClient, page: str) -> None:
    response = client.get("/contacts", page=page)

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid page"}


# A list that changes during a walk


@pytest.mark.parametrize(
    "settings",
    [{"pagination": "pages"}, {"cursor_semantics": "keyset"}, {"cursor_semantics": "snapshot"}],
    ids=["pages", "keyset", "snapshot"],
)
def test_page_walk_repeats_a_contact_when_one_is_added(
    make_sandbox: MakeSandbox, settings: dict[str, str]
) -> None:
    sandbox = make_sandbox(contacts=30, page_size=10, **settings)
    client = ApiClient(sandbox)

    page1 = client.get("/contacts", page=1).json()["contacts"]
    sandbox.add_contact(name="Walk-in", source="web_chat")
    page2 = client.get("/contacts", page=2).json()["contacts"]

    assert page2[0] == page1[-1]


def test_update_keeps_the_place_and_touch_moves_to_the_top(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=30, page_size=10)
    client = ApiClient(sandbox)
    order = uuids(sandbox.contacts())

    sandbox.update_contact(order[12], tags=["vip"])
    assert uuids(client.walk_cursor()) == order

    sandbox.update_contact(order[12], touch=True)
    assert uuids(client.get("/contacts").json()["contacts"])[0] == order[12]


def test_contact_touched_mid_walk_is_left_for_the_next_walk(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=30, page_size=10)
    client = ApiClient(sandbox)
    order = uuids(sandbox.contacts())
    first = client.get("/contacts").json()

    sandbox.update_contact(order[25], touch=True)
    rest = client.walk_cursor(after=first["meta"]["next"])

    assert uuids(first["contacts"] + rest) == order[:25] + order[26:]
