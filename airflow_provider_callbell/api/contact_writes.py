"""Creating, changing and deleting contacts: validated bodies, and how to find each write applied."""

from __future__ import annotations

import functools
import json
import re
from collections import deque
from collections.abc import KeysView, Mapping, ValuesView
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_callbell.api.filters import parse_tags
from airflow_provider_callbell.api.pagination import checked_uuid
from airflow_provider_callbell.api.writes import Get, Lookup, Write
from airflow_provider_callbell.arguments import (
    channel_type,
    contact_uuid,
    free_text,
    identifier,
    is_finite_number,
    no_controls,
    phone_key,
    phone_number,
    plain_number,
    visible,
)
from airflow_provider_callbell.exceptions import CallbellInvalidResponseError, CallbellNotFoundError

if TYPE_CHECKING:
    from airflow_provider_callbell.api.pagination import Contact

MAX_NOTE_LENGTH = 1000
#: The text a template renders for an empty list, tuple, set or other collection.
_EMPTY_LIST = re.compile(r"\[\s*\]|\(\s*\)|(?:frozen)?set\(\)|(?:deque|o?dict_keys|o?dict_values)\(\[\s*\]\)")
#: The API's names of what a ``PATCH /contacts/{uuid}`` may change.
CHANGEABLE = ("name", "tags", "custom_fields", "assigned_user", "unassign_user", "team_uuid", "note")


def single_contact(document: Any, uuid: str | None = None, *, phone: str | None = None) -> Contact:
    """The contact of a one-contact answer, ``{"contact": {...}}`` or ``{"contact": [{...}]}``;
    the one with ``uuid``, or with the ``phone`` number, when the request named it."""
    contact = document.get("contact") if isinstance(document, Mapping) else None
    if isinstance(contact, list) and len(contact) == 1:
        contact = contact[0]
    if not isinstance(contact, dict):
        raise CallbellInvalidResponseError("Callbell answered without the 'contact' object it documents")
    checked_uuid(contact, "answered with a contact")
    if uuid is not None and contact["uuid"] != uuid:
        raise CallbellInvalidResponseError(
            f"Callbell answered a request for contact {uuid} with another contact ({contact['uuid']})"
        )
    if phone is not None and phone_key(str(contact.get("phoneNumber") or "")) != phone_key(phone):
        raise CallbellInvalidResponseError(
            f"Callbell answered a lookup of the phone number …{phone_key(phone)[-2:]} with a contact "
            f"({contact['uuid']}) of another number"
        )
    return contact


def contact_path(uuid: str) -> str:
    """The path of the contact with ``uuid``, checked."""
    return f"contacts/{quote(contact_uuid(uuid, 'uuid'))}"


def phone_lookup(number: str, channel_uuid: str | None) -> Get:
    """The request finding a contact by phone number, on a channel."""
    params = {"channel_uuid": channel_uuid} if channel_uuid else None
    return Get(f"contacts/phone/{quote(number, safe='')}", params)


def changes_body(changes: Mapping[str, Any]) -> dict[str, Any]:
    """A ``PATCH``/``POST`` body of contact changes, each checked; names as the API spells them."""
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise ValueError(f"contact changes must be among {', '.join(CHANGEABLE)}, got {', '.join(unknown)}")
    body: dict[str, Any] = {}
    for name, value in changes.items():
        body[name] = _CHECKS[name](value, name)
    if body.get("unassign_user") and "assigned_user" in body:
        raise ValueError("assigned_user and unassign_user=True contradict each other: give one")
    return body


def _name(value: Any, name: str) -> str:
    return free_text(value, name)


def tag_list(value: Any, name: str) -> list[str]:
    """A contact's whole tag list: a list, a set, a comma-separated or rendered list; empty clears.

    ``None`` is refused: as a filter it means "any tags", here it would clear them.
    """
    if value is None:
        raise ValueError(
            f"{name} must be a list of tags, or [] to clear them, got None: leave {name} out to keep them"
        )
    if (isinstance(value, list | tuple | set | frozenset | deque | KeysView | ValuesView) and not value) or (
        isinstance(value, str) and _EMPTY_LIST.fullmatch(value.strip())
    ):
        return []
    return list(parse_tags(value, argument=name, optional=False))


def _custom_fields(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(
            f"{name} must be a non-empty mapping of field names to values, got a {type(value).__name__}"
        )
    return {field_name(key, name): field_value(item, f"{name}[{key!r}]") for key, item in value.items()}


def field_name(key: Any, name: str) -> str:
    """A custom field's name: non-empty text without control characters, nor spaces around it
    (``" score "`` would be another field than ``score``)."""
    if not isinstance(key, str) or not visible(key):
        raise ValueError(f"{name} must map field names (non-empty texts) to values, got {key!r}")
    if key != key.strip():
        raise ValueError(
            f"{name} must map field names without spaces around them to values, got {key!r}: it would "
            "be another field than the one without them"
        )
    return no_controls(key, f"{name}'s field names")


def field_value(value: Any, name: str) -> str:
    """A custom field's value as Callbell holds it, text: a number written plainly (``91``, not
    ``91.0``; ``0.0000001``, not ``1e-07``), a list of texts as JSON."""
    if isinstance(value, str):
        return no_controls(value, name, lines=True)
    if is_finite_number(value):
        return plain_number(value, name)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return json.dumps(list(value), ensure_ascii=False)
    raise ValueError(
        f"{name} must be text, a finite int, float, Decimal or Fraction, or a list of texts, "
        f"got {type(value).__name__}"
    )


def _unassign(value: Any, name: str) -> bool:
    if value is not True:
        raise ValueError(f"{name} must be True when given, got {value!r}")
    return True


def _note(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be text or None, got {type(value).__name__}")
    if value is not None and len(value) > MAX_NOTE_LENGTH:
        raise ValueError(f"{name} must hold at most {MAX_NOTE_LENGTH} characters, got {len(value)}")
    if value is None:
        return None
    return no_controls(value, name, lines=True) if visible(value) else ""  # blank clears, as "" does


_CHECKS = {
    "name": _name,
    "tags": tag_list,
    "custom_fields": _custom_fields,
    "assigned_user": _name,
    "unassign_user": _unassign,
    "team_uuid": identifier,
    "note": _note,
}


def create_contact(
    number: str, name: str, source: str, channel_uuid: str | None, changes: Mapping[str, Any]
) -> Write[Contact]:
    """``POST /contacts``; a lost answer is looked for by the contact's phone number."""
    body = {
        "identifier": phone_number(number, "phone_number"),
        "name": free_text(name, "name"),
        "source": channel_type(source, "source"),
        **changes_body(changes),
    }
    if channel_uuid is not None:
        body["channel_uuid"] = identifier(channel_uuid, "channel_uuid")
    lookup = phone_lookup(body["identifier"], channel_uuid)

    def find() -> Lookup[Contact]:
        try:
            return single_contact((yield lookup), phone=body["identifier"])
        except CallbellNotFoundError:
            return None

    return Write("POST", "contacts", body, single_contact, find)


def update_contact(uuid: str, changes: Mapping[str, Any]) -> Write[Contact]:
    """``PATCH /contacts/{uuid}``: it sets values, so sending it twice is harmless."""
    body = changes_body(changes)
    if not body:
        raise ValueError("update_contact needs at least one change")
    return patch_contact(uuid, body)


def patch_contact(uuid: str, body: Mapping[str, Any]) -> Write[Contact]:
    """``PATCH /contacts/{uuid}`` of a body checked already: an upsert row's changes, laid on the
    tags the contact holds, which are Callbell's (an agent's ``'80s``), not the row's to check."""
    checked = contact_uuid(uuid, "uuid")
    return Write("PATCH", contact_path(checked), body, functools.partial(single_contact, uuid=checked))


def delete_contact(uuid: str) -> Write[bool]:
    """``DELETE /contacts/{uuid}``; a lost answer is settled by whether the contact is still there."""
    path = contact_path(uuid)

    def find() -> Lookup[bool]:
        try:
            yield Get(path)
        except CallbellNotFoundError:
            return True
        return None

    return Write("DELETE", path, None, lambda _: True, find)
