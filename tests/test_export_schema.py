"""Contact values in typed form: what a Parquet column takes, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_callbell.exceptions import CallbellContactValueError
from airflow_provider_callbell.exports.schema import (
    EXTRA,
    Column,
    Kind,
    column_of,
    parse_timestamp,
    typed_columns,
    typed_value,
)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2020-11-13T21:08:53Z", datetime(2020, 11, 13, 21, 8, 53, tzinfo=UTC)),
        ("2020-11-13T21:08:53.123456789Z", datetime(2020, 11, 13, 21, 8, 53, 123456, tzinfo=UTC)),
        ("2020-11-13T22:08:53+01:00", datetime(2020, 11, 13, 21, 8, 53, tzinfo=UTC)),
        ("2020-11-13 16:08:53 -0500", datetime(2020, 11, 13, 21, 8, 53, tzinfo=UTC)),
        ("20201113T210853Z", datetime(2020, 11, 13, 21, 8, 53, tzinfo=UTC)),
        ("2020-11-13T21:08:53", datetime(2020, 11, 13, 21, 8, 53, tzinfo=UTC)),
        ("2020-11-13", datetime(2020, 11, 13, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_iso_8601_times_become_utc(text: str | None, utc: datetime | None) -> None:
    assert parse_timestamp(text) == utc


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("createdAt", "13/11/2020", "'13/11/2020' is not an ISO 8601 time"),
        ("blockedAt", "2020-02-30T00:00:00Z", "'2020-02-30T00:00:00Z' is not an ISO 8601 time"),
        ("closedAt", 1605301733, "1605301733 is not an ISO 8601 string"),
        ("tags", "lead,vip", "'lead,vip' is not a list"),
        ("customFields", ["Plan"], "['Plan'] is not an object"),
    ],
)
def test_values_a_column_cannot_hold_name_the_contact_and_field(
    column: str, value: Any, problem: str
) -> None:
    contact = {"uuid": "c0ffee", column: value}

    with pytest.raises(CallbellContactValueError, match=f"^Contact 'c0ffee': {column} ") as caught:
        typed_value(contact, column_of(column))

    assert problem in str(caught.value)
    assert (caught.value.uuid, caught.value.field) == ("c0ffee", column)


def test_text_columns_take_other_values_as_json_text() -> None:
    contact = {"assignedUser": {"email": "zoë@example.com"}, "funnelId": 3, "tags": ["lead", 7]}

    assert typed_value(contact, column_of("assignedUser")) == '{"email":"zoë@example.com"}'
    assert typed_value(contact, column_of("funnelId")) == "3"
    assert typed_value(contact, column_of("tags")) == ["lead", "7"]


def test_unknown_keys_go_to_extra_and_stay_out_of_it_when_absent() -> None:
    assert (
        typed_value({"uuid": "a", "loyaltyTier": "gold", "score": 7}, EXTRA)
        == '{"loyaltyTier":"gold","score":7}'
    )
    assert typed_value({"uuid": "a", "name": "Zoë"}, EXTRA) is None


def test_fields_name_the_columns() -> None:
    assert typed_columns(["uuid", "loyaltyTier"]) == (
        Column("uuid", Kind.TEXT),
        Column("loyaltyTier", Kind.ANY),
    )
    assert typed_columns(None)[-1] == EXTRA
