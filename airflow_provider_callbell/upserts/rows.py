"""Rows to upsert: contact keys as the export writes them, checked, and what each would change.

A row names its contact (``uuid``, or ``phoneNumber``) and the values it wants. ``None`` leaves a
value as it is, so tabular files whose every row has every column change only what they hold;
an empty value clears (``""`` for ``note`` or ``assignedUser``, ``[]`` for ``tags``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_callbell.api.contact_writes import MAX_NOTE_LENGTH, field_name, field_value, tag_list
from airflow_provider_callbell.arguments import (
    channel_type,
    contact_uuid,
    identifier,
    no_controls,
    phone_key,
    phone_number,
    rendered,
    visible,
)

TAGS_MODES = ("set", "add", "remove")
MATCH_ON = ("uuid", "phone")
#: Keys a row may change, and the others it may carry.
CHANGED_KEYS = ("name", "tags", "customFields", "assignedUser", "team", "team_uuid", "note")
IDENTITY_KEYS = ("uuid", "phoneNumber", "source")
#: What the export writes but no write can change: carried along, never compared.
READ_ONLY_KEYS = frozenset(
    {
        "avatarUrl",
        "createdAt",
        "href",
        "conversationHref",
        "customFieldsMetadata",
        "blockedAt",
        "closedAt",
        "funnelId",
        "channel",
        "bsuid",
    }
)
ROW_KEYS = frozenset((*CHANGED_KEYS, *IDENTITY_KEYS)) | READ_ONLY_KEYS

Contact = Mapping[str, Any]


class RowError(ValueError):
    """A row that cannot be upserted; the text names the key, never a personal value."""


@dataclass(frozen=True)
class Row:
    """One checked row: whom it names, and the values it sets (``None`` ones dropped).

    Matching on ``phone``, the phone number decides which contact the row is: a ``uuid`` the
    row also holds (an export's) is never compared, even when it names another contact.
    """

    number: int
    uuid: str | None
    phone: str | None
    source: str | None
    values: Mapping[str, Any]
    others: frozenset[str] = frozenset()
    match_on: str = "uuid"

    @classmethod
    def of(cls, number: int, row: Any, match_on: str) -> Row:
        """Check the ``number``-th row (1-based) for matching on ``match_on``."""
        if not isinstance(row, Mapping):
            raise RowError(f"must be an object of contact keys, got {type(row).__name__}")
        others = frozenset(key for key in row if key not in ROW_KEYS and row[key] is not None)
        given = {key: row[key] for key in CHANGED_KEYS if row.get(key) is not None}
        uuid = _checked(row, "uuid", contact_uuid)
        phone = None if number_of(row, "phoneNumber") is None else _checked(row, "phoneNumber", phone_number)
        if (uuid if match_on == "uuid" else phone) is None:
            raise RowError(f"has no {'uuid' if match_on == 'uuid' else 'phoneNumber'} to match on")
        source = _checked(row, "source", channel_type)
        return cls(number, uuid, phone, source, _values(given), others, match_on)

    def check_keys(self, current: Contact) -> None:
        """Refuse keys neither writable nor the contact's own (fields Callbell added, carried by
        an export): a ``score`` column meant as a custom field must not vanish silently."""
        unknown = sorted(self.others - current.keys(), key=str)
        if unknown:
            raise RowError(
                f"has keys a contact does not have: {', '.join(map(repr, unknown))}; a row may hold "
                f"{', '.join((*IDENTITY_KEYS, *CHANGED_KEYS))} (put other values into customFields)"
            )
        # matched on uuid, an existing contact (not one about to be created) has the row's number
        number = self.phone if self.match_on == "uuid" and "uuid" in current else None
        if number is not None and phone_key(number) != phone_key(str(current.get("phoneNumber") or "")):
            raise RowError(
                "has a phoneNumber its contact does not have: a phone number is no value an upsert "
                "writes (match_on='phone' finds contacts by it)"
            )

    @property
    def key(self) -> str:
        """The row's contact, as matched: its uuid, or (matching on phone) its number's digits."""
        return phone_key(self.phone or "") if self.match_on == "phone" else self.uuid or ""


def number_of(row: Mapping[str, Any], key: str) -> Any:
    """The row's ``key``, ``None`` when blank text: an export's contact without a phone number."""
    value = row.get(key)
    return None if isinstance(value, str) and not value.strip() else value


def _checked(row: Mapping[str, Any], key: str, check: Any) -> Any:
    value = row.get(key)
    if value is None:
        return None
    try:
        return check(value, key)
    except ValueError as error:
        raise RowError(f"has an invalid {key}: {without_value(error)}") from None


def without_value(error: ValueError) -> str:
    """The rule an error states, without the value it quotes (personal data)."""
    return re.split("[,;] got ", str(error))[0]


def _values(given: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in given.items():
        values[key] = _VALUE_CHECKS[key](value, key)
    team = values.pop("team", None)
    if team is not None:
        if values.get("team_uuid", team) != team:
            raise RowError("has a team and a team_uuid that differ")
        values["team_uuid"] = team
    return values


def _name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not visible(value):
        raise RowError(f"has an invalid {key}: it must be non-empty text that shows something")
    return _without_controls(value.strip(), key)


def _optional_text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise RowError(f"has an invalid {key}: it must be text")
    if key == "note" and len(value) > MAX_NOTE_LENGTH:
        raise RowError(f"has a note longer than {MAX_NOTE_LENGTH} characters")
    if not visible(value):
        return ""  # blank: it clears, as "" does, never writes spaces
    note = key == "note"
    return _without_controls(value if note else value.strip(), key, lines=note)


def _without_controls(value: str, key: str, *, lines: bool = False) -> str:
    try:
        return no_controls(value, key, lines=lines)
    except ValueError as error:
        raise RowError(f"has an invalid {key}: {error}") from None


def _tags(value: Any, key: str) -> tuple[str, ...]:
    try:
        return tuple(tag_list(value, key))
    except ValueError as error:
        raise RowError(f"has invalid {key}: {without_value(error)}") from None


def _custom_fields(value: Any, key: str) -> dict[str, str]:
    if isinstance(value, str):
        value = _mapping(value, key)
    if not isinstance(value, Mapping):
        raise RowError(f"has invalid {key}: an object of field names to values")
    return {name: _field_value(name, item, key) for name, item in value.items() if item is not None}


def _mapping(value: str, key: str) -> Any:
    """An object written as JSON or Python text, as a CSV cell or a rendered template holds it."""
    try:
        return rendered(value, key, dict)
    except ValueError:
        raise RowError(f"has invalid {key}: its text is no object (JSON or Python)") from None


def _field_value(name: Any, value: Any, key: str) -> str:
    try:
        return field_value(value, f"{key}[{field_name(name, key)!r}]")
    except ValueError as error:
        raise RowError(f"has an invalid value: {error}") from None


def _team(value: Any, key: str) -> str:
    uuid = value.get("uuid") if isinstance(value, Mapping) else value
    try:
        return identifier(uuid, key)
    except ValueError:
        raise RowError(f"has an invalid {key}: a team object with a uuid, or a team uuid") from None


_VALUE_CHECKS = {
    "name": _name,
    "tags": _tags,
    "customFields": _custom_fields,
    "assignedUser": _optional_text,
    "team": _team,
    "team_uuid": _team,
    "note": _optional_text,
}


def changes_for(row: Row, current: Contact, tags_mode: str) -> dict[str, Any]:
    """The ``PATCH`` body taking ``current`` to what ``row`` wants; empty when nothing differs."""
    row.check_keys(current)
    values = row.values
    body: dict[str, Any] = {}
    if "name" in values and values["name"] != current.get("name"):
        body["name"] = values["name"]
    if "tags" in values:
        tags = _new_tags(list(current.get("tags") or ()), values["tags"], tags_mode)
        if tags is not None:
            body["tags"] = tags
    fields = current.get("customFields") or {}
    changed = {
        name: value for name, value in values.get("customFields", {}).items() if fields.get(name) != value
    }
    if changed:
        body["custom_fields"] = changed
    body.update(_assignment(values, current))
    team = (current.get("team") or {}).get("uuid")
    if "team_uuid" in values and values["team_uuid"] != team:
        body["team_uuid"] = values["team_uuid"]
    if "note" in values and values["note"] != (current.get("note") or ""):
        body["note"] = values["note"] or None
    return body


def _new_tags(current: list[str], wanted: tuple[str, ...], mode: str) -> list[str] | None:
    """The whole new tag list, or None when it would not change; case never tells tags apart."""
    have = {tag.lower() for tag in current}
    if mode == "add":
        added = [tag for tag in wanted if tag.lower() not in have]
        return current + added if added else None
    if mode == "remove":
        dropped = {tag.lower() for tag in wanted} & have
        return [tag for tag in current if tag.lower() not in dropped] if dropped else None
    return list(wanted) if {tag.lower() for tag in wanted} != have or len(wanted) != len(current) else None


def _assignment(values: Mapping[str, Any], current: Contact) -> dict[str, Any]:
    if "assignedUser" not in values or values["assignedUser"] == (current.get("assignedUser") or ""):
        return {}
    if values["assignedUser"]:
        return {"assigned_user": values["assignedUser"]}
    return {"unassign_user": True}


def creation(row: Row, default_source: str, tags_mode: str = "set") -> dict[str, Any]:
    """What creating the row's contact sends, besides its number: ``name``, ``source``, changes
    (its tags as ``tags_mode`` makes them of none: ``remove`` gives none).

    :raises RowError: when the row lacks what Callbell requires (a name).
    """
    values = dict(row.values)
    if "name" not in values:
        raise RowError("has no name, which creating a contact requires")
    changes = changes_for(Row(row.number, None, row.phone, None, values, row.others), {}, tags_mode)
    name = changes.pop("name")
    changes.pop("unassign_user", None)
    return {"name": name, "source": row.source or default_source, **changes}
