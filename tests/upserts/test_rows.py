"""Rows to upsert: what they may hold, and the smallest change that takes a contact there."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_callbell.upserts.rows import Row, RowError, changes_for, creation

CURRENT = {
    "uuid": "c0ffee",
    "name": "Ada",
    "phoneNumber": "+39 333 111 2222",
    "tags": ["Lead", "vip"],
    "customFields": {"score": "10", "city": "Torino"},
    "assignedUser": "agent@example.com",
    "team": {"uuid": "team1", "name": "Sales"},
    "note": None,
    "createdAt": "2026-01-01T00:00:00Z",
    "href": "https://dash/contacts/c0ffee",
}


def changes(row: dict[str, Any], tags_mode: str = "set", current: dict[str, Any] = CURRENT) -> dict[str, Any]:
    return changes_for(Row.of(1, {"uuid": "c0ffee", **row}, "uuid"), current, tags_mode)


def test_the_exported_contact_itself_changes_nothing() -> None:
    assert changes(dict(CURRENT)) == {}


def test_only_what_differs_is_sent() -> None:
    body = changes({"name": "Ada L.", "customFields": {"score": 87, "city": "Torino"}, "note": "VIP"})

    assert body == {"name": "Ada L.", "custom_fields": {"score": "87"}, "note": "VIP"}


def test_none_leaves_a_value_and_empty_clears_it() -> None:
    assert changes({"name": None, "note": None, "assignedUser": None, "tags": None}) == {}
    assert changes({"assignedUser": "", "tags": []}) == {"unassign_user": True, "tags": []}
    assert changes({"note": ""}, current={**CURRENT, "note": "old"}) == {"note": None}


@pytest.mark.parametrize(
    ("mode", "tags", "expected"),
    [
        ("set", ["vip", "lead"], None),
        ("set", ["hot"], ["hot"]),
        ("add", ["HOT", "lead"], ["Lead", "vip", "HOT"]),
        ("add", ["LEAD"], None),
        ("remove", ["LEAD", "absent"], ["vip"]),
        ("remove", ["absent"], None),
    ],
)
def test_tags_by_mode(mode: str, tags: list[str], expected: list[str] | None) -> None:
    assert changes({"tags": tags}, mode).get("tags") == expected


def test_tags_as_a_csv_cell_or_json_text() -> None:
    assert changes({"tags": "hot, vip"})["tags"] == ["hot", "vip"]
    assert changes({"tags": '["hot"]'})["tags"] == ["hot"]


def test_team_object_or_uuid() -> None:
    assert changes({"team": {"uuid": "team1"}}) == {}
    assert changes({"team_uuid": "team2"}) == {"team_uuid": "team2"}
    with pytest.raises(RowError, match="team and a team_uuid that differ"):
        changes({"team": {"uuid": "team1"}, "team_uuid": "team2"})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"name": ""}, "invalid name"),
        ({"tags": [1]}, "invalid tags"),
        ({"customFields": {"x": True}}, r"customFields\['x'\]"),
        ({"customFields": "not json"}, r"its text is no object \(JSON or Python\)"),
        ({"customFields": "['a']"}, r"its text is no object"),
        ({"note": "x" * 1001}, "note longer than 1000"),
        ({"uuid": "../admin"}, "invalid uuid"),
    ],
)
def test_bad_rows_name_the_key_not_the_value(row: dict[str, Any], message: str) -> None:
    with pytest.raises(RowError, match=message) as raised:
        Row.of(1, {"uuid": "c0ffee", **row}, "uuid")
    assert "x" * 20 not in str(raised.value)


def test_a_bad_phone_number_is_not_quoted() -> None:
    with pytest.raises(RowError, match="invalid phoneNumber") as raised:
        Row.of(1, {"phoneNumber": "call me at 555"}, "phone")
    assert "555" not in str(raised.value)


def test_rows_need_what_they_match_on() -> None:
    with pytest.raises(RowError, match="no phoneNumber to match on"):
        Row.of(1, {"uuid": "c0ffee", "name": "Ada"}, "phone")
    assert Row.of(1, {"phoneNumber": "+39 (333) 111-2222"}, "phone").key == "393331112222"
    exported = {"uuid": "c0ffee", "phoneNumber": "+39 (333) 111-2222"}
    assert (Row.of(1, exported, "phone").key, Row.of(1, exported, "uuid").key) == ("393331112222", "c0ffee")


def test_creation_needs_a_name_and_sends_every_value() -> None:
    row = Row.of(
        1, {"phoneNumber": "+39 333 000 0000", "name": "Bea", "tags": ["hot"], "assignedUser": ""}, "phone"
    )

    assert creation(row, "whatsapp") == {"name": "Bea", "source": "whatsapp", "tags": ["hot"]}
    assert creation(row, "whatsapp", "add") == {"name": "Bea", "source": "whatsapp", "tags": ["hot"]}
    assert creation(row, "whatsapp", "remove") == {"name": "Bea", "source": "whatsapp"}
    with pytest.raises(RowError, match="no name"):
        creation(Row.of(2, {"phoneNumber": "+39 333 000 0000"}, "phone"), "whatsapp")


def test_keys_of_neither_the_api_nor_the_contact_are_refused() -> None:
    with pytest.raises(RowError, match=r"keys a contact does not have: 'score'.*customFields"):
        changes({"score": 87})
    with pytest.raises(RowError, match="'score'"):
        creation(
            Row.of(1, {"phoneNumber": "+39 333 000 0000", "name": "Bea", "score": 87}, "phone"), "whatsapp"
        )


def test_fields_callbell_added_ride_along_as_the_export_wrote_them() -> None:
    assert changes({"loyaltyTier": "gold"}, current={**CURRENT, "loyaltyTier": "silver"}) == {}
