"""The live account: events that move, create, delete and tag contacts.

One random stream, seeded from the ``event_seed`` setting, picks each event's
kind (weighted by ``event_mix``), its contact (uniformly among the contacts
that qualify, by index into the current list) and its tag. Given the same
starting data and no other writes, a seed therefore always gives the same
sequence of events; only their timing varies. A kind that cannot happen right
now (no contact to delete, every contact already tagged) is drawn again
among the others.

Every event is applied and logged under the store's lock, so an
:class:`AccountState` always matches the number of events it reports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.sandbox.catalog import random_hex_uuid, seeded_random
from airflow_provider_callbell.sandbox.settings import TAG_EVENT_KINDS
from airflow_provider_callbell.sandbox.store import ContactFilter, ContactLimitError, ContactStore

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Mapping, Sequence

    from airflow_provider_callbell.sandbox.messages import MessageBook
    from airflow_provider_callbell.sandbox.records import ContactRecord
    from airflow_provider_callbell.sandbox.settings import SandboxSettings

_EVERYONE = ContactFilter()

#: What an event did: the contact's uuid, whether it moved to the top, the tag.
_Outcome = tuple[str, bool, str | None]


@dataclass(frozen=True, slots=True)
class SandboxEvent:
    """One applied event.

    ``index`` counts events from 0; ``time`` is ``time.monotonic()`` when the
    event was applied; ``kind`` is one of ``message``, ``create``, ``delete``,
    ``tag_add``, ``tag_remove``; ``moved`` tells whether the contact went to
    the top of the list; ``tag`` is the tag added or removed, else None.
    """

    index: int
    time: float
    kind: str
    uuid: str
    moved: bool
    tag: str | None


@dataclass(frozen=True)
class AccountState:
    """The account at one moment: its contacts and how many events led there.

    ``order`` holds the uuids in list order, ``tags`` each contact's
    lowercased tags, ``events`` the number of events applied so far.
    """

    order: tuple[str, ...]
    tags: Mapping[str, frozenset[str]]
    events: int
    uuids: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "uuids", frozenset(self.order))

    def tags_of(self, uuid: str) -> frozenset[str]:
        """The lowercased tags of the contact with ``uuid``.

        Raises:
            KeyError: the account had no such contact.
        """
        return self.tags[uuid]


class EventSource:
    """Draws events, applies them to a store and logs them; thread-safe."""

    def __init__(self, store: ContactStore, messages: MessageBook, seed: int) -> None:
        """Draw events for ``store`` from a stream seeded with ``seed``.

        A ``message`` event is a customer writing: it opens the contact's
        24-hour window in ``messages`` too.
        """
        self._store = store
        self._messages = messages
        self._rng = seeded_random("events", seed)
        self._log: list[SandboxEvent] = []

    def reseed(self, seed: int) -> None:
        """Restart the stream of events from ``seed``."""
        with self._store.lock:
            self._rng = seeded_random("events", seed)

    def apply(self, settings: SandboxSettings, count: int) -> list[SandboxEvent]:
        """Apply up to ``count`` events; fewer when no kind of event can happen."""
        applied: list[SandboxEvent] = []
        for _ in range(count):
            event = self._apply_one(settings)
            if event is None:
                break
            applied.append(event)
        return applied

    def events(self) -> list[SandboxEvent]:
        """Every event applied so far, oldest first."""
        with self._store.lock:
            return list(self._log)

    def state(self) -> AccountState:
        """The contacts and the event count, taken together."""
        with self._store.lock:
            records = self._store.listing(_EVERYONE)
            count = len(self._log)
        return AccountState(
            order=tuple(record.uuid for record in records),
            tags=MappingProxyType({record.uuid: record.tags for record in records}),
            events=count,
        )

    def _apply_one(self, settings: SandboxSettings) -> SandboxEvent | None:
        with self._store.lock:
            weights = dict(settings.event_mix)
            while any(weights.values()):
                kind = _draw(self._rng, weights)
                outcome = self._happen(kind, settings)
                if outcome is not None:
                    event = SandboxEvent(len(self._log), time.monotonic(), kind, *outcome)
                    self._log.append(event)
                    return event
                weights[kind] = 0
            return None

    def _happen(self, kind: str, settings: SandboxSettings) -> _Outcome | None:
        """Make an event of ``kind`` happen; None when it cannot right now."""
        if kind == "create":
            fields = {"uuid": random_hex_uuid(self._rng), "name": f"New contact {len(self._log)}"}
            try:
                return self._store.add(fields).uuid, True, None
            except ContactLimitError:
                return None
        if kind in TAG_EVENT_KINDS:
            return self._change_tag(settings, add=kind == "tag_add")
        record = self._pick(self._store.listing(_EVERYONE))
        if record is None:
            return None
        if kind == "message":
            self._messages.customer_wrote(record.uuid)
            return record.uuid, True, None
        self._store.delete(record.uuid)
        return record.uuid, False, None

    def _change_tag(self, settings: SandboxSettings, *, add: bool) -> _Outcome | None:
        """Add or remove a tag, trying the ``event_tags`` in random order."""
        tags = settings.event_tags
        for tag in self._rng.sample(tags, len(tags)):
            record = self._pick(self._tag_candidates(tag.lower(), lacking=add))
            if record is None:
                continue
            moved = self._rng.random() < settings.tag_message_rate
            self._store.update(record.uuid, _adding(tag) if add else _removing(tag), touch=moved)
            return record.uuid, moved, tag
        return None

    def _tag_candidates(self, tag: str, *, lacking: bool) -> Sequence[ContactRecord]:
        if lacking:
            return [record for record in self._store.listing(_EVERYONE) if tag not in record.tags]
        return self._store.listing(ContactFilter(tags=frozenset({tag})))

    def _pick(self, records: Sequence[ContactRecord]) -> ContactRecord | None:
        return records[self._rng.randrange(len(records))] if records else None


def _draw(rng: random.Random, weights: Mapping[str, float]) -> str:
    """A kind drawn with probability proportional to its weight (never a 0 weight)."""
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def _adding(tag: str) -> Callable[[dict[str, Any]], None]:
    def edit(contact: dict[str, Any]) -> None:
        contact["tags"] = [*(contact.get("tags") or []), tag]

    return edit


def _removing(tag: str) -> Callable[[dict[str, Any]], None]:
    def edit(contact: dict[str, Any]) -> None:
        contact["tags"] = [t for t in contact.get("tags") or [] if str(t).lower() != tag.lower()]

    return edit
