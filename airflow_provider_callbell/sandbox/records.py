"""How a contact is stored: its JSON pre-encoded, plus the attributes queries use."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_callbell.sandbox.catalog import field_types_metadata


def encode_json(value: Any) -> bytes:
    """Encode ``value`` the way the sandbox sends JSON: compact UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def phone_key(phone_number: str) -> str:
    """Reduce a phone number to its digits, so formatting does not matter."""
    return "".join(char for char in phone_number if char.isdigit())


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """One stored contact.

    ``body`` is the contact's JSON, encoded once so that listing pages only
    joins bytes. ``seq`` orders the list: a higher ``seq`` means a more recent
    conversation. The other attributes are lowercased or extracted copies of
    fields of the body, kept for filtering and lookups.
    """

    seq: int
    uuid: str
    body: bytes
    source: str
    tags: frozenset[str]
    team_uuid: str | None
    channel_uuid: str | None
    phone_key: str
    bsuid: str | None

    @classmethod
    def from_contact(cls, contact: Mapping[str, Any], seq: int) -> ContactRecord:
        """Encode ``contact`` and extract its index attributes."""
        tags = contact.get("tags")
        return cls(
            seq=seq,
            uuid=contact["uuid"],
            body=encode_json(contact),
            source=str(contact.get("source") or "").lower(),
            tags=frozenset(str(tag).lower() for tag in tags or ()),
            team_uuid=_nested_uuid(contact.get("team")),
            channel_uuid=_nested_uuid(contact.get("channel")),
            phone_key=phone_key(str(contact.get("phoneNumber") or "")),
            bsuid=contact.get("bsuid"),
        )

    def decode(self) -> dict[str, Any]:
        """Return the contact as a new dict."""
        result: dict[str, Any] = json.loads(self.body)
        return result

    def with_seq(self, seq: int) -> ContactRecord:
        """Return this record moved to position ``seq``."""
        return replace(self, seq=seq)

    def body_with_field_types(self) -> bytes:
        """Return the JSON body with ``customFieldsMetadata`` added."""
        contact = self.decode()
        contact["customFieldsMetadata"] = field_types_metadata(contact.get("customFields") or {})
        return encode_json(contact)


def _nested_uuid(value: object) -> str | None:
    if isinstance(value, Mapping):
        uuid = value.get("uuid")
        return uuid if isinstance(uuid, str) else None
    return None
