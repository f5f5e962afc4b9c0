"""Waiting for sent messages to be delivered: which are settled, and how the wait ended.

Pure bookkeeping, driven by the operator's polling loop and by the deferred trigger alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Statuses after which a message's status no longer changes in a way the wait cares about.
SETTLED = frozenset({"delivered", "read", "failed"})
FAILED = "failed"


@dataclass
class DeliveryWatch:
    """The statuses of the messages waited for, by uuid."""

    statuses: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, uuids: Iterable[str], statuses: Mapping[str, str | None] | None = None) -> DeliveryWatch:
        """A watch of ``uuids``, with the statuses already known."""
        known = statuses or {}
        return cls({uuid: known.get(uuid) for uuid in uuids})

    @property
    def pending(self) -> list[str]:
        """The messages not settled yet."""
        return [uuid for uuid, status in self.statuses.items() if status not in SETTLED]

    @property
    def done(self) -> bool:
        """Whether every message is settled."""
        return not self.pending

    @property
    def failed(self) -> list[str]:
        """The messages whose delivery failed."""
        return [uuid for uuid, status in self.statuses.items() if status == FAILED]

    def update(self, uuid: str, status: str | None) -> None:
        """Record the status Callbell gave for ``uuid``."""
        self.statuses[uuid] = status
