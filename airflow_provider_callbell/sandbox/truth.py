"""What a walk of a live sandbox account must hand out, from the account's states and event log.

Take :meth:`CallbellSandbox.state` just before a walk and just after it:
:meth:`CallbellSandbox.expected_walk` says which contacts must come out exactly once (they
matched throughout the walk) and which may come out at most once (they were created,
deleted, or started or stopped matching while it ran); :meth:`WalkExpectation.check` compares
a walk's output with that.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from airflow_provider_callbell.sandbox.events import AccountState, SandboxEvent


@dataclass(frozen=True)
class WalkCheck:
    """How a walk's output differs from what it must be."""

    missed: frozenset[str]
    duplicated: frozenset[str]
    unexpected: frozenset[str]

    @property
    def exact(self) -> bool:
        """Every contact it had to hand out, once, and nothing it had no business with."""
        return not (self.missed or self.duplicated or self.unexpected)


@dataclass(frozen=True)
class WalkExpectation:
    """``must``: the uuids a walk hands out exactly once; ``may``: all it may hand out."""

    must: frozenset[str]
    may: frozenset[str]
    events: tuple[SandboxEvent, ...]

    @classmethod
    def between(
        cls, before: AccountState, after: AccountState, log: Sequence[SandboxEvent], tag: str | None = None
    ) -> WalkExpectation:
        """For a walk between ``before`` and ``after``, filtered on ``tag`` when given."""
        events = tuple(log[before.events : after.events])
        unsettled = {event.uuid for event in events if _changes_membership(event, tag)}

        def matches(state: AccountState, uuid: str) -> bool:
            return uuid in state.uuids and (tag is None or tag.lower() in state.tags_of(uuid))

        both = before.uuids & after.uuids
        must = {uuid for uuid in both if matches(before, uuid) and matches(after, uuid)} - unsettled
        either = {
            uuid for uuid in before.uuids | after.uuids if matches(before, uuid) or matches(after, uuid)
        }
        return cls(frozenset(must), frozenset(either | unsettled), events)

    def moved(self) -> set[str]:
        """The contacts of ``must`` that moved to the top while the walk ran."""
        return {event.uuid for event in self.events if event.moved} & self.must

    def check(self, walked: Iterable[str]) -> WalkCheck:
        """Compare the uuids a walk handed out with what it must hand out."""
        counts = Counter(walked)
        return WalkCheck(
            missed=frozenset(self.must - counts.keys()),
            duplicated=frozenset(uuid for uuid, count in counts.items() if count > 1),
            unexpected=frozenset(counts.keys() - self.may),
        )


def _changes_membership(event: SandboxEvent, tag: str | None) -> bool:
    if event.kind in ("create", "delete"):
        return True
    return tag is not None and event.tag is not None and event.tag.lower() == tag.lower()
