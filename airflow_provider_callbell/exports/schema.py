"""The columns of contact exports: what each contact key holds, and its values in typed form.

Callbell's API reference documents the contact's keys and what each holds; every key gets a
:class:`Kind`, and each output format declares a type per kind (see :data:`TYPE_NAMES`). Typed
formats (Parquet) have one schema for every run: the documented keys, then :data:`EXTRA`, one
JSON object with the keys Callbell sends that this module does not know, so a field Callbell
adds is kept without changing the schema.

Values go into their typed form here, without pyarrow, so that importing this module stays
cheap at DAG parse time. A value that the column cannot hold as it is (a ``createdAt`` that is
not an ISO 8601 time, ``tags`` that are not a list) raises
:class:`~airflow_provider_callbell.exceptions.CallbellContactValueError` naming the contact and
the key, rather than becoming a null that would read as "not blocked" or "no tags".
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from airflow_provider_callbell.exceptions import CallbellContactValueError

Contact = dict[str, Any]


class Kind(enum.Enum):
    """What a contact key holds."""

    TEXT = "text"
    #: an ISO 8601 string, in UTC unless it names an offset
    TIMESTAMP = "timestamp"
    TEXT_LIST = "text list"
    #: an object whose values are text (``customFields``)
    TEXT_MAP = "text map"
    #: an object whose keys Callbell may extend (``team``, ``channel``)
    OBJECT = "object"
    #: a key this provider does not know: any JSON value
    ANY = "any"
    #: the keys this provider does not know, as one JSON object
    EXTRA = "extra"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an export: a contact key and what it holds."""

    name: str
    kind: Kind


CONTACT_COLUMNS: tuple[Column, ...] = (
    Column("uuid", Kind.TEXT),
    Column("name", Kind.TEXT),
    Column("phoneNumber", Kind.TEXT),
    Column("avatarUrl", Kind.TEXT),
    Column("createdAt", Kind.TIMESTAMP),
    Column("source", Kind.TEXT),
    Column("href", Kind.TEXT),
    Column("conversationHref", Kind.TEXT),
    Column("tags", Kind.TEXT_LIST),
    Column("assignedUser", Kind.TEXT),
    Column("customFields", Kind.TEXT_MAP),
    Column("customFieldsMetadata", Kind.OBJECT),
    Column("blockedAt", Kind.TIMESTAMP),
    Column("closedAt", Kind.TIMESTAMP),
    Column("funnelId", Kind.TEXT),
    Column("team", Kind.OBJECT),
    Column("channel", Kind.OBJECT),
    Column("bsuid", Kind.TEXT),
    Column("note", Kind.TEXT),
)
#: The documented contact keys, in the order of Callbell's reference.
CONTACT_KEYS = tuple(column.name for column in CONTACT_COLUMNS)
_KNOWN = {column.name: column for column in CONTACT_COLUMNS}
#: The column of typed files holding the keys this provider does not know.
EXTRA = Column("_extra", Kind.EXTRA)

_JSON_TYPES = {
    Kind.TEXT: "string",
    Kind.TIMESTAMP: "string",
    Kind.TEXT_LIST: "array<string>",
    Kind.TEXT_MAP: "object",
    Kind.OBJECT: "object",
    Kind.ANY: "json",
    Kind.EXTRA: "object",
}
#: The type each output format gives each kind: what lineage declares and the README lists.
TYPE_NAMES: dict[str, dict[Kind, str]] = {
    "jsonl": _JSON_TYPES,
    "json": _JSON_TYPES,
    "csv": dict.fromkeys(Kind, "string"),
    "parquet": {
        Kind.TEXT: "string",
        Kind.TIMESTAMP: "timestamp[us, tz=UTC]",
        Kind.TEXT_LIST: "list<string>",
        Kind.TEXT_MAP: "map<string, string>",
        Kind.OBJECT: "json",
        Kind.ANY: "json",
        Kind.EXTRA: "json",
    },
}


def column_of(name: str) -> Column:
    """The column of contact key ``name``; keys Callbell does not document hold any JSON value."""
    return _KNOWN.get(name) or Column(name, Kind.ANY)


def columns_of(names: Sequence[str]) -> tuple[Column, ...]:
    """The columns of these contact keys, in this order."""
    return tuple(column_of(name) for name in names)


def typed_columns(fields: Sequence[str] | None) -> tuple[Column, ...]:
    """The columns of a typed file: ``fields`` when given, else every documented key and :data:`EXTRA`."""
    if fields is not None:
        return columns_of(fields)
    return (*CONTACT_COLUMNS, EXTRA)


def declared_types(output_format: str, columns: Sequence[Column]) -> tuple[tuple[str, str], ...]:
    """``(name, type)`` of each column as ``output_format`` writes it."""
    names = TYPE_NAMES[output_format]
    return tuple((column.name, names[column.kind]) for column in columns)


def cell(value: Any) -> str | None:
    """A contact value as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode("utf-8")


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime; no offset means UTC; ``None`` and ``""`` are null.

    Python's ISO 8601 parser takes ``Z``, ``±hh:mm`` and ``±hhmm`` offsets, a space or ``T``
    between date and time, the basic format (``20201113T210853Z``), a date alone (midnight)
    and any number of fractional digits (kept to the microsecond).
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("is not an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValueError("is not an ISO 8601 time") from None


def _text_list(value: Any) -> list[str | None] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("is not a list")
    return [cell(item) for item in value]


def _text_map(value: Any) -> list[tuple[str, str | None]] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("is not an object")
    return [(key, cell(item)) for key, item in value.items()]


def _json(value: Any) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode("utf-8")


_TYPED: dict[Kind, Callable[[Any], Any]] = {
    Kind.TEXT: cell,
    Kind.TIMESTAMP: parse_timestamp,
    Kind.TEXT_LIST: _text_list,
    Kind.TEXT_MAP: _text_map,
    Kind.OBJECT: _json,
    Kind.ANY: _json,
    Kind.EXTRA: _json,
}


def unknown_keys(contact: Contact) -> Contact | None:
    """The contact's keys this provider does not document, or ``None`` when it has none."""
    extra = {key: value for key, value in contact.items() if key not in _KNOWN}
    return extra or None


def typed_value(contact: Contact, column: Column) -> Any:
    """The contact's value for ``column`` in its typed form (text, UTC datetime, list, pairs, JSON).

    Text columns take a non-text value as JSON text; JSON columns any value. A value that the
    column cannot hold (a time that does not parse, tags that are not a list, custom fields that
    are not an object) raises :class:`CallbellContactValueError` naming the contact and key.
    """
    value = unknown_keys(contact) if column.kind is Kind.EXTRA else contact.get(column.name)
    try:
        return _TYPED[column.kind](value)
    except ValueError as error:
        uuid = contact.get("uuid")
        raise CallbellContactValueError(
            f"Contact {uuid!r}: {column.name} {value!r} {error}, so Parquet cannot hold it as "
            f"{TYPE_NAMES['parquet'][column.kind]}. JSON Lines keeps values as Callbell sends them.",
            uuid=uuid if isinstance(uuid, str) else None,
            field=column.name,
        ) from None


class RowTyper:
    """Contacts as rows of typed values, one per column, as :func:`typed_value` gives them.

    The same values, a row at a time: the conversions are looked up once, not once a value.
    """

    def __init__(self, columns: Sequence[Column]) -> None:
        self._columns = tuple(columns)
        self._plan = tuple(
            (None if column.kind is Kind.EXTRA else column.name, _TYPED[column.kind]) for column in columns
        )

    def row(self, contact: Contact) -> list[Any]:
        """The contact's typed values; :class:`CallbellContactValueError` for one that does not fit."""
        try:
            return [
                convert(unknown_keys(contact) if key is None else contact.get(key))
                for key, convert in self._plan
            ]
        except ValueError:
            for column in self._columns:
                typed_value(contact, column)  # raises, naming the column
            raise
