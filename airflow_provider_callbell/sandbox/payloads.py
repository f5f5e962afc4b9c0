"""Validation of the JSON bodies of ``POST /contacts`` and ``PATCH /contacts/{uuid}``.

Bodies use the API's snake_case names; the functions here translate them into
the contact's own (camelCase) fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.sandbox.records import check_unicode

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox.catalog import Catalog

MAX_NOTE_LENGTH = 1000
#: The sandbox's own bounds on what one contact holds (Callbell documents none
#: but the note's): they keep a contact, and so the account, bounded.
MAX_TEXT_LENGTH = 1000
MAX_TAGS = 100
MAX_TAG_LENGTH = 255
MAX_CUSTOM_FIELDS = 100
MAX_CUSTOM_FIELD_NAME_LENGTH = 255
MAX_CUSTOM_FIELD_VALUE_LENGTH = 10_000

ContactEdit = Callable[[dict[str, Any]], None]


class PayloadError(ValueError):
    """The request body is invalid; the message is sent back to the client."""


def parse_object(body: bytes) -> dict[str, Any]:
    """Parse a request body that must be a JSON object, whose every text is valid Unicode."""
    try:
        value = json.loads(body)
    except ValueError as error:
        raise PayloadError("Malformed JSON body") from error
    except RecursionError as error:  # arrays or objects nested deeper than Python recurses
        raise PayloadError("Malformed JSON body: nested too deeply") from error
    if not isinstance(value, dict):
        raise PayloadError("Request body must be a JSON object")
    check_unicode(value, PayloadError)
    return value


def creation_fields(payload: Mapping[str, Any], catalog: Catalog) -> dict[str, Any]:
    """The fields of a contact created from a ``POST /contacts`` body."""
    fields: dict[str, Any] = {}
    for key, field in (("identifier", "phoneNumber"), ("source", "source"), ("name", "name")):
        if not payload.get(key):
            raise PayloadError(f"Missing required field: {key}")
        fields[field] = text_field(payload, key)
    fields.update(_common_fields(payload, catalog))
    if "custom_fields" in payload:
        fields["customFields"] = _custom_fields(payload)
    if "channel_uuid" in payload:
        fields["channel"] = known_field(catalog.channel, payload, "channel_uuid")
    return fields


def patch_edit(payload: Mapping[str, Any], catalog: Catalog) -> ContactEdit:
    """The change a ``PATCH /contacts/{uuid}`` body makes to a contact."""
    changes = _common_fields(payload, catalog)
    if "name" in payload:
        if not payload["name"]:
            raise PayloadError("Invalid field: name (must not be empty)")
        changes["name"] = text_field(payload, "name")
    if payload.get("unassign_user") is True:
        changes["assignedUser"] = None
    merged = _custom_fields(payload) if "custom_fields" in payload else {}

    def edit(contact: dict[str, Any]) -> None:
        contact.update(changes)
        if merged:
            contact["customFields"] = _within_limit({**(contact.get("customFields") or {}), **merged})

    return edit


def _common_fields(payload: Mapping[str, Any], catalog: Catalog) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "tags" in payload:
        tags = payload["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise PayloadError("Invalid field: tags (expected a list of strings)")
        if len(tags) > MAX_TAGS or any(len(tag) > MAX_TAG_LENGTH for tag in tags):
            raise PayloadError(
                f"Invalid field: tags (at most {MAX_TAGS} tags of at most {MAX_TAG_LENGTH} characters)"
            )
        fields["tags"] = tags
    if "assigned_user" in payload:
        fields["assignedUser"] = text_field(payload, "assigned_user")
    if "team_uuid" in payload:
        fields["team"] = known_field(catalog.team, payload, "team_uuid")
    if "note" in payload:
        fields["note"] = _note(payload)
    return fields


def text_field(payload: Mapping[str, Any], key: str) -> str:
    """The string under ``key`` (which must be present)."""
    value = payload[key]
    if not isinstance(value, str):
        raise PayloadError(f"Invalid field: {key} (expected a string)")
    if len(value) > MAX_TEXT_LENGTH:
        raise PayloadError(f"Invalid field: {key} (longer than {MAX_TEXT_LENGTH})")
    return value


def _custom_fields(payload: Mapping[str, Any]) -> dict[str, str]:
    value = payload["custom_fields"]
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise PayloadError("Invalid field: custom_fields (expected an object of strings)")
    if any(
        len(name) > MAX_CUSTOM_FIELD_NAME_LENGTH or len(item) > MAX_CUSTOM_FIELD_VALUE_LENGTH
        for name, item in value.items()
    ):
        raise PayloadError(
            f"Invalid field: custom_fields (names of at most {MAX_CUSTOM_FIELD_NAME_LENGTH} characters, "
            f"values of at most {MAX_CUSTOM_FIELD_VALUE_LENGTH:,})"
        )
    return _within_limit(value)


def _within_limit(custom_fields: dict[str, str]) -> dict[str, str]:
    if len(custom_fields) > MAX_CUSTOM_FIELDS:
        raise PayloadError(f"Invalid field: custom_fields (a contact holds at most {MAX_CUSTOM_FIELDS})")
    return custom_fields


def known_field(
    lookup: Callable[[str], dict[str, Any] | None],
    payload: Mapping[str, Any],
    key: str,
) -> dict[str, Any]:
    """What ``lookup`` finds for the uuid under ``key`` (which must be present)."""
    found = lookup(text_field(payload, key))
    if found is None:
        raise PayloadError(f"Invalid field: {key} (unknown uuid)")
    return found


def _note(payload: Mapping[str, Any]) -> str | None:
    if payload["note"] is None:
        return None
    note = text_field(payload, "note")
    if len(note) > MAX_NOTE_LENGTH:
        raise PayloadError(f"Invalid field: note (longer than {MAX_NOTE_LENGTH})")
    return note
