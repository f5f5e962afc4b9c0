"""Which contacts a walk has handed out, and which stretch of the walk handed each out."""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict
from collections.abc import Iterable


def _digest(uuid: str) -> int:
    return int.from_bytes(hashlib.blake2b(uuid.encode(), digest_size=8).digest(), "little")


class SeenContacts:
    """The uuids handed out so far, each with the lane (stretch of the list) that found it.

    Lanes look each other's uuids up while they run, so those are kept exactly. Once the
    earlier lanes are done, only the last lane goes on (past Callbell's page-number limit, on
    large accounts); beyond ``exact_limit`` uuids its contacts are still kept exactly while they
    are among the ``recent`` last ones (a server repeating itself is caught), then as 8-byte
    digests, consulted once at the end of the walk: memory grows by 8 bytes a contact, not ~100.

    :param exact_limit: how many uuids to keep exactly before the last lane's spill to digests.
    :param recent: how many of the last lane's latest uuids stay exact after that.
    """

    def __init__(self, exact_limit: int = 50_000, recent: int = 5_000) -> None:
        self._lanes: dict[str, int] = {}
        self._recent: OrderedDict[str, int] = OrderedDict()
        self._digests = array("Q")
        self._exact_limit = exact_limit
        self._recent_limit = recent

    def __len__(self) -> int:
        return len(self._lanes) + len(self._recent) + len(self._digests)

    def lane_of(self, uuid: str) -> int | None:
        """The lane that handed ``uuid`` out, when it is kept exactly."""
        lane = self._lanes.get(uuid)
        return self._recent.get(uuid) if lane is None else lane

    def add(self, uuid: str, lane: int, *, alone: bool) -> None:
        """Record that ``lane`` handed ``uuid`` out; ``alone`` when no other lane still runs."""
        if not alone or len(self._lanes) < self._exact_limit:
            self._lanes[uuid] = lane
            return
        self._recent[uuid] = lane
        if len(self._recent) > self._recent_limit:
            self._digests.append(_digest(self._recent.popitem(last=False)[0]))

    def unseen(self, uuids: Iterable[str]) -> list[str]:
        """Those of ``uuids`` never handed out: one pass over the digests, for the end of a walk."""
        candidates = [uuid for uuid in uuids if self.lane_of(uuid) is None]
        if not candidates or not self._digests:
            return candidates
        by_digest = {_digest(uuid): uuid for uuid in candidates}
        handed_out = {by_digest[value] for value in self._digests if value in by_digest}
        return [uuid for uuid in candidates if uuid not in handed_out]
