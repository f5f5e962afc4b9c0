"""Upserting rows: find each row's contact, write only what differs, say what became of each row.

Two passes over the rows keep memory flat: the first checks them and gathers the contacts they
name, the second plans and writes. Contacts are found with one walk of the account when that
costs fewer requests than one lookup a row (more rows than the account has pages). Callbell
replaces a contact's tags with the list sent, so with ``tags_mode`` ``add`` or ``remove`` the
list sent is built on the contact read again right before the write: a tag an agent added
meanwhile is kept. (``set`` sends the row's list whatever the contact has.) Rows run side by
side, ``concurrency`` at once, under the hook's rate limit; their outcomes come out in row order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.api.contact_writes import patch_contact
from airflow_provider_callbell.api.pagination import ContactPage
from airflow_provider_callbell.arguments import contact_uuid, phone_key
from airflow_provider_callbell.batches import BATCH_FATAL, done, in_order, window_for
from airflow_provider_callbell.exceptions import (
    CallbellClientError,
    CallbellError,
    CallbellInvalidResponseError,
    CallbellNotFoundError,
)
from airflow_provider_callbell.upserts.rows import Contact, Row, RowError, changes_for, creation

if TYPE_CHECKING:
    from airflow_provider_callbell.hooks.callbell import CallbellHook

OUTCOMES = ("created", "updated", "unchanged", "failed")
#: When Callbell gives no page count: above this many rows, one walk of the account finds their
#: contacts; below, a lookup each.
WALK_ABOVE = 100
_CONFLICT = 409


@dataclass(frozen=True)
class Outcome:
    """What became of one row (1-based ``row``); ``changed`` names the API fields written."""

    row: int
    outcome: str
    uuid: str | None = None
    changed: tuple[str, ...] = ()
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report line."""
        return {
            "row": self.row,
            "outcome": self.outcome,
            "uuid": self.uuid,
            "changed": list(self.changed),
            "reason": self.reason,
        }


@dataclass
class UpsertSettings:
    """How rows are matched and written; see CallbellUpsertContactsOperator."""

    match_on: str = "uuid"
    channel_uuid: str | None = None
    create_missing: bool = False
    tags_mode: str = "set"
    dry_run: bool = False
    concurrency: int = 8
    default_source: str = "whatsapp"


@dataclass
class Upsert:
    """One upsert of ``rows`` (a callable giving them afresh: they are read twice)."""

    hook: CallbellHook
    settings: UpsertSettings
    rows: Callable[[], Iterable[Any]]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    _known: dict[str, Contact] | None = None
    #: Keys more than one contact of the walk holds (a number on two channels): looked up.
    _shared: set[str] = field(default_factory=set)

    def run(self) -> Iterator[Outcome]:
        """Every row's outcome, in row order; counted in :attr:`counts`."""
        keys = self._keys()
        if keys and self._walk_is_cheaper(len(keys)):
            self._known = self._walk(keys)
        first: dict[str, int] = {}
        with ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="callbell-upsert") as pool:
            started = (
                self._start(pool, number, raw, first) for number, raw in enumerate(self.rows(), start=1)
            )
            for outcome in in_order(started, window_for(self.settings.concurrency)):
                self.counts[outcome.outcome] += 1
                yield outcome

    def _keys(self) -> set[str]:
        keys = set()
        for number, raw in enumerate(self.rows(), start=1):
            with contextlib.suppress(RowError):
                keys.add(Row.of(number, raw, self.settings.match_on).key)
        return keys

    def _walk_is_cheaper(self, lookups: int) -> bool:
        """Whether reading the account's pages costs fewer requests than a lookup a row."""
        pages = ContactPage.parse(self.hook.request("GET", "contacts")).pages
        return lookups > (WALK_ABOVE if pages is None else pages)

    def _walk(self, keys: set[str]) -> dict[str, Contact]:
        known: dict[str, Contact] = {}
        for contact in self.hook.iter_contacts(concurrency=self.settings.concurrency):
            key = self._key_of(contact)
            if key in keys and self._on_channel(contact):
                if key in known:
                    self._shared.add(key)
                known[key] = contact
        return known

    def _key_of(self, contact: Contact) -> str:
        if self.settings.match_on == "uuid":
            return str(contact.get("uuid"))
        return phone_key(str(contact.get("phoneNumber") or ""))

    def _on_channel(self, contact: Contact) -> bool:
        channel = self.settings.channel_uuid
        return channel is None or (contact.get("channel") or {}).get("uuid") == channel

    def _start(
        self, pool: ThreadPoolExecutor, number: int, raw: Any, first: dict[str, int]
    ) -> Future[Outcome]:
        """The row's outcome under way; rows are checked here, in order, so duplicates are the later rows."""
        try:
            row = Row.of(number, raw, self.settings.match_on)
            earlier = first.setdefault(row.key, number)
            if earlier != number:
                raise RowError(f"names the same contact as row {earlier}")
        except RowError as error:
            return done(Outcome(number, "failed", _uuid_of(raw), reason=f"row {number} {error}"))
        return pool.submit(self._outcome, row)

    def _outcome(self, row: Row) -> Outcome:
        try:
            return self._upsert(row)
        except BATCH_FATAL:
            raise
        except RowError as error:
            return Outcome(row.number, "failed", row.uuid, reason=f"row {row.number} {error}")
        except CallbellError as error:
            # Refused, uncertain, or still failing after the hook's retries (a persistent 5xx).
            return Outcome(row.number, "failed", row.uuid, reason=str(error))

    def _upsert(self, row: Row) -> Outcome:
        current = self._current(row)
        if current is None:
            return self._create(row)
        return self._update(row, current)

    def _current(self, row: Row) -> Contact | None:
        if self._known is not None and row.key not in self._shared:
            return self._known.get(row.key)
        return self._fetch(row)

    def _fetch(self, row: Row) -> Contact | None:
        """The row's contact as Callbell finds it (by phone, on the main WhatsApp channel unless
        ``channel_uuid``); the hook checks it is the contact asked for."""
        try:
            if row.uuid is not None and self.settings.match_on == "uuid":
                return self.hook.get_contact(row.uuid)
            return self.hook.get_contact_by_phone(str(row.phone), channel_uuid=self.settings.channel_uuid)
        except CallbellNotFoundError:
            return None

    def _update(self, row: Row, current: Contact) -> Outcome:
        uuid = current["uuid"]
        body = changes_for(row, current, self.settings.tags_mode)
        if "tags" in body and self._known is not None and self.settings.tags_mode != "set":
            current = self.hook.get_contact(uuid)
            if current["uuid"] != uuid:
                raise CallbellInvalidResponseError(
                    f"Callbell answered the reading of row {row.number}'s contact with another contact: "
                    "nothing was written to it"
                )
            body = changes_for(row, current, self.settings.tags_mode)
        if not body:
            return Outcome(row.number, "unchanged", uuid)
        if not self.settings.dry_run:
            self.hook.write(patch_contact(uuid, body))
        return Outcome(row.number, "updated", uuid, tuple(body))

    def _create(self, row: Row) -> Outcome:
        if not self.settings.create_missing or row.phone is None:
            what = "uuid" if self.settings.match_on == "uuid" else "phone number"
            raise RowError(f"names no existing contact (no contact has its {what}); create_missing is off")
        fields = creation(row, self.settings.default_source, self.settings.tags_mode)
        if self.settings.dry_run:
            return Outcome(row.number, "created", None, tuple(fields))
        try:
            contact = self.hook.create_contact(row.phone, channel_uuid=self.settings.channel_uuid, **fields)
        except CallbellClientError as error:
            if error.status != _CONFLICT:
                raise
            return self._update(row, self._taken(row))
        return Outcome(row.number, "created", contact["uuid"], tuple(fields))

    def _taken(self, row: Row) -> Contact:
        """The contact created since the walk passed, which holds the row's number."""
        found = self._fetch(row)
        if found is None:
            raise RowError("names a phone number Callbell says is taken, yet finds no contact with it")
        return found


def _uuid_of(raw: Any) -> str | None:
    """The uuid a row that failed its checks gives, if it is one: a bad cell may hold a phone number."""
    try:
        return contact_uuid(raw.get("uuid"), "uuid") if isinstance(raw, Mapping) else None
    except ValueError:
        return None
