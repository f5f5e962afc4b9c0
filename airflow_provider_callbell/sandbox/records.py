"""How a contact is stored: its JSON pre-encoded, plus the attributes queries use."""

from __future__ import annotations

import contextlib
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_callbell.sandbox.catalog import field_types_metadata


def encode_json(value: Any) -> bytes:
    """Encode ``value`` the way the sandbox sends JSON: compact UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


#: The longest key shown in the name of a field: a key may be as long as a body.
_SHOWN_KEY_LENGTH = 50

#: Where a value sits: None at the top, else its container's place and its key or index there.
#: Each place only links to its container's, so a walk of a deep value never copies paths.
_Place = tuple["_Place", str | int] | None


def check_unicode(value: object, error: type[ValueError] = ValueError) -> None:
    """Raise ``error`` naming the first field of ``value`` holding text UTF-8 cannot encode.

    Only a lone surrogate (half a character, such as the JSON escape
    ``"\\ud800"``) is such text: it could be stored, but never sent back.
    ``value`` holds what JSON can encode.
    """
    # The C encoder finds nothing much faster than the walk, but it recurses: a value nested
    # as deeply as json.loads reads can be too deep for it, never for the walk.
    with contextlib.suppress(UnicodeEncodeError, RecursionError):
        encode_json(value)
        return
    path = _non_unicode_path(value)
    if path is not None:
        field = f"Invalid field: {path}" if path else "Invalid field name"
        raise error(f"{field} (not valid Unicode: it holds a lone surrogate)")


def _non_unicode_path(value: object) -> str | None:
    """The path (``content.text``, ``tags[2]``) of the first text that cannot be encoded, or None.

    A key that cannot be encoded is reported as its object: ``""`` at the top.
    """
    pending: deque[tuple[_Place, object]] = deque([(None, value)])
    while pending:
        place, item = pending.popleft()
        if isinstance(item, str):
            if not _encodes(item):
                return _path(place)
        elif isinstance(item, Mapping):
            if not all(_encodes(str(key)) for key in item):
                return _path(place)
            pending.extend(((place, str(key)), child) for key, child in item.items())
        elif isinstance(item, list | tuple):
            pending.extend(((place, index), child) for index, child in enumerate(item))
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _path(place: _Place) -> str:
    steps: list[str] = []
    while place is not None:
        place, step = place
        steps.append(_step(step))
    return "".join(reversed(steps)).removeprefix(".")


def _step(step: str | int) -> str:
    if isinstance(step, int):
        return f"[{step}]"
    return "." + (step if len(step) <= _SHOWN_KEY_LENGTH else step[:_SHOWN_KEY_LENGTH] + "...")


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
        """Encode ``contact`` and extract its index attributes.

        Raises:
            ValueError: a field holds text that cannot be encoded (see :func:`check_unicode`).
        """
        tags = contact.get("tags")
        try:
            body = encode_json(contact)
        except UnicodeEncodeError:
            check_unicode(contact)
            raise
        return cls(
            seq=seq,
            uuid=contact["uuid"],
            body=body,
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
