"""Thread-safe contact store: filtering, ordering and both kinds of pagination.

The list order is "most recent conversation first": records are kept in a
dict whose insertion order is ``seq`` ascending, and listed in reverse.
Every change bumps the store's version. Filtered lists are built once per
version and filter, never mutated, and cached until the next change; the
lists that snapshot cursors read are kept a while longer (see
:meth:`ContactStore.page_after`).
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_callbell.sandbox.catalog import ISO_FORMAT, Catalog, random_hex_uuid, seeded_random
from airflow_provider_callbell.sandbox.cursors import Cursor, KeysetCursor, SnapshotCursor
from airflow_provider_callbell.sandbox.records import ContactRecord, phone_key
from airflow_provider_callbell.sandbox.seed import (
    format_phone,
    generate_contacts,
    national_number,
    new_contact,
    phone_offset,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

_CACHED_FILTERS = 32
#: How many listings snapshot cursors can read at once; the least recently
#: read one goes first. A static store has one listing per filter.
_KEPT_SNAPSHOTS = 64


class ContactConflictError(ValueError):
    """A contact with the same uuid or phone number already exists."""


class ContactLimitError(ValueError):
    """The account holds as many contacts as it can."""


class StaleCursorError(LookupError):
    """The listing a snapshot cursor reads is no longer kept."""


class ContactWatcher(Protocol):
    """Told of contacts added and deleted, under the store's lock; see :meth:`ContactStore.watch`."""

    def contact_added(self, uuid: str) -> None:
        """The contact ``uuid`` was just added."""

    def contact_deleted(self, uuid: str) -> None:
        """The contact ``uuid`` was just deleted."""


@dataclass(frozen=True, slots=True)
class ContactFilter:
    """The filters of ``GET /contacts``; values are already lowercased."""

    source: str | None = None
    tags: frozenset[str] = frozenset()
    all_tags: bool = False
    team_uuid: str | None = None

    def matches(self, record: ContactRecord) -> bool:
        """Whether ``record`` passes every filter."""
        if self.source is not None and record.source != self.source:
            return False
        if self.team_uuid is not None and record.team_uuid != self.team_uuid:
            return False
        if not self.tags:
            return True
        if self.all_tags:
            return self.tags <= record.tags
        return not self.tags.isdisjoint(record.tags)

    @property
    def is_empty(self) -> bool:
        """Whether the filter lets every record through."""
        return self.source is None and self.team_uuid is None and not self.tags


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; ``number`` and ``pages`` are 1-based counts."""

    records: tuple[ContactRecord, ...]
    number: int
    pages: int
    next: Cursor | None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # Records hold no reference cycles, so the collector passes that millions
    # of new objects trigger only cost time (a fifth of a large seeding); frozen
    # afterwards, they never make a later collection pause the server either.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _descending_seq(record: ContactRecord) -> int:
    return -record.seq


class ContactStore:
    """All contacts of the sandbox account; every method is thread-safe."""

    def __init__(
        self, catalog: Catalog, records: Iterable[ContactRecord], *, seed: int, capacity: int | None = None
    ) -> None:
        """Store ``records``, in ascending ``seq`` order; :meth:`add` keeps within ``capacity``."""
        self.catalog = catalog
        self._capacity = capacity
        self._lock = threading.RLock()
        self._records: dict[str, ContactRecord] = {}
        self._by_phone: dict[str, str] = {}
        self._by_bsuid: dict[str, str] = {}
        self._cache: OrderedDict[ContactFilter, list[ContactRecord]] = OrderedDict()
        self._snapshots: OrderedDict[tuple[int, ContactFilter], list[ContactRecord]] = OrderedDict()
        self._version = 0
        self._max_seq = 0
        self._uuids = seeded_random("new-contacts", seed)
        self._phone_offset = phone_offset(seed)
        self._watchers: list[ContactWatcher] = []
        for record in records:
            self._insert(record)

    @classmethod
    def seeded(cls, count: int, seed: int, *, capacity: int | None = None) -> ContactStore:
        """A store holding ``count`` generated contacts, and at most ``capacity``."""
        catalog = Catalog.for_seed(seed)
        with _gc_paused():
            return cls(catalog, generate_contacts(count, seed, catalog), seed=seed, capacity=capacity)

    def __len__(self) -> int:
        return len(self._records)

    def watch(self, watcher: ContactWatcher) -> None:
        """Tell ``watcher`` of every contact added or deleted from now on."""
        with self._lock:
            self._watchers.append(watcher)

    @property
    def lock(self) -> threading.RLock:
        """The store's re-entrant lock: hold it to make several calls one change."""
        return self._lock

    def listing(self, query: ContactFilter) -> Sequence[ContactRecord]:
        """The filtered list as it is now; it never changes afterwards."""
        with self._lock:
            return self._filtered(query)

    def page(self, query: ContactFilter, number: int, size: int, semantics: str = "keyset") -> Page:
        """Page ``number`` of the filtered list, as it is right now.

        Its cursor continues right after the page's last contact, as a walk
        of ``semantics`` (``keyset`` or ``snapshot``) that begins here.
        """
        start = (number - 1) * size
        with self._lock:
            items = self._filtered(query)
            version, horizon = self._version, self._max_seq
            has_more = start + size < len(items)
            if has_more and semantics == "snapshot":
                self._keep_snapshot((version, query), items)
        chunk = tuple(items[start : start + size])
        cursor: Cursor | None = None
        if has_more:
            cursor = (
                SnapshotCursor(version, start + size)
                if semantics == "snapshot"
                else KeysetCursor(chunk[-1].seq, horizon)
            )
        return Page(records=chunk, number=number, pages=math.ceil(len(items) / size), next=cursor)

    def page_after(self, query: ContactFilter, cursor: Cursor, size: int) -> Page:
        """The ``size`` contacts that follow ``cursor`` in its walk.

        A keyset cursor reads the live list below its last contact, among
        contacts older than its walk. A snapshot cursor reads the list its
        walk began with: the same contacts in the same order, less those
        deleted since, with their bodies as they are now.

        Raises:
            StaleCursorError: the snapshot cursor's listing is no longer kept.
        """
        if isinstance(cursor, KeysetCursor):
            return self._page_below(query, cursor, size)
        return self._page_in_snapshot(query, cursor, size)

    def _page_below(self, query: ContactFilter, cursor: KeysetCursor, size: int) -> Page:
        with self._lock:
            items = self._filtered(query)
        walk_start = bisect.bisect_left(items, -cursor.horizon, key=_descending_seq)
        start = bisect.bisect_left(items, -(cursor.last_seq - 1), key=_descending_seq)
        chunk = tuple(items[start : start + size])
        has_more = start + size < len(items)
        return Page(
            records=chunk,
            number=(start - walk_start) // size + 1,
            pages=math.ceil((len(items) - walk_start) / size),
            next=KeysetCursor(chunk[-1].seq, cursor.horizon) if has_more else None,
        )

    def _page_in_snapshot(self, query: ContactFilter, cursor: SnapshotCursor, size: int) -> Page:
        with self._lock:
            items = self._snapshots.get((cursor.version, query))
            if items is None:
                raise StaleCursorError(cursor)
            self._snapshots.move_to_end((cursor.version, query))
            chunk, position = self._live_records(items, cursor.position, size)
        has_more = position < len(items)
        return Page(
            records=chunk,
            number=cursor.position // size + 1,
            pages=math.ceil(len(items) / size),
            next=SnapshotCursor(cursor.version, position) if has_more else None,
        )

    def _live_records(
        self, items: Sequence[ContactRecord], position: int, size: int
    ) -> tuple[tuple[ContactRecord, ...], int]:
        """Up to ``size`` current records of ``items`` from ``position``, and where to go on.

        Deleted contacts are skipped, also right after the last one taken, so
        that the position returned is the end of ``items`` when none is left.
        """
        records = self._records
        chunk: list[ContactRecord] = []
        while position < len(items) and len(chunk) < size:
            current = records.get(items[position].uuid)
            position += 1
            if current is not None:
                chunk.append(current)
        while position < len(items) and items[position].uuid not in records:
            position += 1
        return tuple(chunk), position

    def get(self, uuid: str) -> ContactRecord | None:
        """The contact with ``uuid``, or None."""
        return self._records.get(uuid)

    def find_by_phone(self, number: str, channel_uuid: str | None = None) -> ContactRecord | None:
        """The contact with this phone number (formatting ignored), or None."""
        with self._lock:
            uuid = self._by_phone.get(phone_key(number))
            record = self._records.get(uuid) if uuid else None
        if record is None or channel_uuid in (None, record.channel_uuid):
            return record
        return None

    def find_by_bsuid(self, bsuid: str) -> ContactRecord | None:
        """The contact with this WhatsApp business-scoped user id, or None."""
        with self._lock:
            uuid = self._by_bsuid.get(bsuid)
            return self._records.get(uuid) if uuid else None

    def snapshot(self) -> list[dict[str, Any]]:
        """Every contact, decoded, in list order."""
        with self._lock:
            records = list(reversed(self._records.values()))
        return [record.decode() for record in records]

    def add(self, fields: Mapping[str, Any]) -> ContactRecord:
        """Create a contact, first in the list; Callbell's defaults fill the gaps.

        Raises:
            ContactConflictError: the uuid or the phone number is taken.
            ContactLimitError: the store holds ``capacity`` contacts.
        """
        with self._lock:
            if self._capacity is not None and len(self._records) >= self._capacity:
                raise ContactLimitError(f"the account holds {self._capacity:,} contacts, as many as it can")
            uuid = fields.get("uuid") or random_hex_uuid(self._uuids)
            phone = fields.get("phoneNumber") or self._unused_phone_number()
            contact = new_contact(
                self.catalog,
                fields,
                uuid=uuid,
                phone_number=phone,
                created_at=time.strftime(ISO_FORMAT, time.gmtime()),
            )
            if uuid in self._records:
                raise ContactConflictError(f"a contact with uuid {uuid} exists")
            record = ContactRecord.from_contact(contact, self._max_seq + 1)
            self._check_phone_free(record)
            self._insert(record)
            for watcher in self._watchers:
                watcher.contact_added(uuid)
            return record

    def update(
        self,
        uuid: str,
        edit: Callable[[dict[str, Any]], None],
        *,
        touch: bool = False,
    ) -> ContactRecord:
        """Apply ``edit`` to the decoded contact and store the result.

        ``touch`` moves the contact to the top of the list, as a new message
        would; a plain update keeps its position.

        Raises:
            KeyError: no contact has ``uuid``.
            ValueError: ``edit`` changed the uuid.
            ContactConflictError: the new phone number is taken.
        """
        with self._lock:
            contact = self._records[uuid].decode()
            edit(contact)
            if contact.get("uuid") != uuid:
                raise ValueError("the uuid of a contact cannot change")
            seq = self._max_seq + 1 if touch else self._records[uuid].seq
            record = ContactRecord.from_contact(contact, seq)
            self._check_phone_free(record)
            self._remove(uuid, keep_position=not touch)
            self._insert(record)
            return record

    def touch(self, uuid: str) -> ContactRecord:
        """Move the contact to the top of the list, as a new message does.

        Raises:
            KeyError: no contact has ``uuid``.
        """
        with self._lock:
            record = self._records[uuid].with_seq(self._max_seq + 1)
            self._remove(uuid, keep_position=False)
            self._insert(record)
            return record

    def delete(self, uuid: str) -> None:
        """Delete the contact with ``uuid``.

        Raises:
            KeyError: no contact has ``uuid``.
        """
        with self._lock:
            self._remove(uuid, keep_position=False)
            self._changed()
            for watcher in self._watchers:
                watcher.contact_deleted(uuid)

    def _filtered(self, query: ContactFilter) -> list[ContactRecord]:
        cached = self._cache.get(query)
        if cached is not None:
            self._cache.move_to_end(query)
            return cached
        records = reversed(self._records.values())
        result = list(records) if query.is_empty else [r for r in records if query.matches(r)]
        self._cache[query] = result
        if len(self._cache) > _CACHED_FILTERS:
            self._cache.popitem(last=False)
        return result

    def _insert(self, record: ContactRecord) -> None:
        self._records[record.uuid] = record
        if record.phone_key:
            self._by_phone[record.phone_key] = record.uuid
        if record.bsuid:
            self._by_bsuid[record.bsuid] = record.uuid
        self._max_seq = max(self._max_seq, record.seq)
        self._changed()

    def _changed(self) -> None:
        self._version += 1
        self._cache.clear()

    def _keep_snapshot(self, key: tuple[int, ContactFilter], items: list[ContactRecord]) -> None:
        self._snapshots.setdefault(key, items)
        self._snapshots.move_to_end(key)
        if len(self._snapshots) > _KEPT_SNAPSHOTS:
            self._snapshots.popitem(last=False)

    def _remove(self, uuid: str, *, keep_position: bool) -> None:
        old = self._records[uuid]
        self._by_phone.pop(old.phone_key, None)
        if old.bsuid:
            self._by_bsuid.pop(old.bsuid, None)
        if not keep_position:
            del self._records[uuid]

    def _check_phone_free(self, record: ContactRecord) -> None:
        owner = self._by_phone.get(record.phone_key)
        if record.phone_key and owner not in (None, record.uuid):
            raise ContactConflictError("a contact with this phone number exists")

    def _unused_phone_number(self) -> str:
        index = self._max_seq
        while True:
            national = national_number(index, self._phone_offset)
            if "39" + national not in self._by_phone:
                return format_phone("+39", national, style=0.0)
            index += 1
