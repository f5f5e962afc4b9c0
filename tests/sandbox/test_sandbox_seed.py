"""The seeded contacts: deterministic, realistic, and awkward where real data is."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from airflow_provider_callbell.sandbox.catalog import SOURCES, Catalog
from airflow_provider_callbell.sandbox.records import phone_key
from airflow_provider_callbell.sandbox.store import ContactStore

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def contacts() -> list[dict[str, Any]]:
    return ContactStore.seeded(2000, seed=0).snapshot()


def test_same_seed_same_contacts() -> None:
    assert ContactStore.seeded(300, seed=9).snapshot() == ContactStore.seeded(300, seed=9).snapshot()


def test_another_seed_other_contacts() -> None:
    first = {c["uuid"] for c in ContactStore.seeded(50, seed=1).snapshot()}
    second = {c["uuid"] for c in ContactStore.seeded(50, seed=2).snapshot()}

    assert not first & second


def test_more_contacts_keep_the_first_ones() -> None:
    small = ContactStore.seeded(40, seed=4).snapshot()
    large = ContactStore.seeded(400, seed=4).snapshot()

    assert large[-40:] == small


def test_ids_and_phone_numbers_are_unique(contacts: list[dict[str, Any]]) -> None:
    assert all(re.fullmatch(r"[0-9a-f]{32}", c["uuid"]) for c in contacts)
    assert len({c["uuid"] for c in contacts}) == len(contacts)
    assert len({phone_key(c["phoneNumber"]) for c in contacts}) == len(contacts)
    assert any(re.fullmatch(r"\+\d+ \d{3} \d{3} \d{3}", c["phoneNumber"]) for c in contacts)


def test_created_at_spreads_over_the_years_out_of_list_order(contacts: list[dict[str, Any]]) -> None:
    created = [c["createdAt"] for c in contacts]

    assert all(ISO.fullmatch(value) for value in created)
    assert {value[:4] for value in created} == {str(year) for year in range(2019, 2026)}
    assert created != sorted(created)
    assert created != sorted(created, reverse=True)


def test_names_are_international(contacts: list[dict[str, Any]]) -> None:
    names = {c["name"] for c in contacts}
    expected = {
        "José Álvarez",
        "Zoë Müller",
        "Łukasz Brzęczyszczykiewicz",
        "山田 太郎",
        "Ольга Смирнова",
        "Nguyễn Văn An",
        "O'Brien, Siobhán",
    }

    assert expected <= names
    assert sum(not c["name"].isascii() for c in contacts) > len(contacts) / 3


def test_sources_are_weighted_towards_whatsapp(contacts: list[dict[str, Any]]) -> None:
    counts = Counter(c["source"] for c in contacts)

    assert set(counts) == {source for source, _ in SOURCES}
    assert counts.most_common(1)[0][0] == "whatsapp"


def test_links_point_at_the_dashboard(contacts: list[dict[str, Any]]) -> None:
    for contact in contacts:
        assert contact["href"] == f"https://dashboard.callbell.eu/contacts/{contact['uuid']}"
        if "conversationHref" in contact:
            assert contact["conversationHref"] == f"https://dashboard.callbell.eu/chat/{contact['uuid']}"


def test_tags_mix_case_and_count(contacts: list[dict[str, Any]]) -> None:
    tags = [tag for c in contacts for tag in c["tags"]]

    assert {len(c["tags"]) for c in contacts} == {0, 1, 2, 3}
    assert {"lead", "Lead", "VIP"} <= set(tags)
    assert all(len({t.lower() for t in c["tags"]}) == len(c["tags"]) for c in contacts)


def test_custom_fields_hold_awkward_text(contacts: list[dict[str, Any]]) -> None:
    values = [value for c in contacts for value in c["customFields"].values()]

    assert all(isinstance(value, str) for value in values)
    assert any("," in v and '"' in v and "\n" in v for v in values)
    assert any(not v.isascii() for v in values)
    interests = [c["customFields"]["Interests"] for c in contacts if "Interests" in c["customFields"]]
    assert interests
    assert all(isinstance(json.loads(value), list) for value in interests)
    assert any(c["customFields"] == {} for c in contacts)


@pytest.mark.parametrize("field", ["note", "avatarUrl", "closedAt", "funnelId", "team"])
def test_optional_fields_are_sometimes_missing_and_sometimes_null(
    contacts: list[dict[str, Any]], field: str
) -> None:
    present = [c[field] for c in contacts if field in c]

    assert 0 < len(present) < len(contacts)
    if field != "team":
        assert None in present
        assert any(value is not None for value in present)


def test_bsuid_only_for_some_whatsapp_contacts(contacts: list[dict[str, Any]]) -> None:
    with_bsuid = [c for c in contacts if "bsuid" in c]

    assert with_bsuid
    assert all(c["source"] == "whatsapp" for c in with_bsuid)
    assert len(with_bsuid) < sum(c["source"] == "whatsapp" for c in contacts)


def test_teams_and_channels_are_stable_for_a_seed(contacts: list[dict[str, Any]]) -> None:
    catalog = Catalog.for_seed(0)

    assert catalog == Catalog.for_seed(0)
    assert catalog.teams != Catalog.for_seed(1).teams
    assert [team["default"] for team in catalog.teams].count(True) == 1
    assert {c["team"]["uuid"] for c in contacts if "team" in c} == {t["uuid"] for t in catalog.teams}
    channels = {ch["uuid"] for group in catalog.channels.values() for ch in group}
    assert {c["channel"]["uuid"] for c in contacts} == channels
