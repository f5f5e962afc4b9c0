"""Which contacts a walk has handed out, and which stretch of the walk handed each out."""

from __future__ import annotations

import bisect
import hashlib
from array import array

#: Digests kept in a set before they are sorted into a compact run.
RUN = 50_000


def _digest(uuid: str) -> int:
    return int.from_bytes(hashlib.blake2b(uuid.encode(), digest_size=8).digest(), "little")


class SeenContacts:
    """The uuids handed out so far, each with the lane (stretch of the list) that found it.

    Lanes look each other's uuids up while they run, so those are kept exactly. Once the
    earlier lanes are done, only the last lane goes on (past Callbell's page-number limit, on
    large accounts); beyond ``exact_limit`` uuids its contacts are kept as 8-byte digests in
    sorted runs, so memory grows by 8 bytes a contact, not ~100, and a look-up still takes
    microseconds.

    :param exact_limit: how many uuids to keep exactly before the last lane's go to digests.
    """

    def __init__(self, exact_limit: int = 50_000) -> None:
        self._lanes: dict[str, int] = {}
        self._exact_limit = exact_limit
        self._recent: set[int] = set()
        self._runs: list[array[int]] = []

    def __len__(self) -> int:
        return len(self._lanes) + len(self._recent) + sum(len(run) for run in self._runs)

    def __contains__(self, uuid: object) -> bool:
        if not isinstance(uuid, str):
            return False
        if uuid in self._lanes:
            return True
        digest = _digest(uuid)
        return digest in self._recent or any(_holds(run, digest) for run in self._runs)

    def lane_of(self, uuid: str) -> int | None:
        """The lane that handed ``uuid`` out, when it is kept exactly."""
        return self._lanes.get(uuid)

    def add(self, uuid: str, lane: int, *, alone: bool) -> None:
        """Record that ``lane`` handed ``uuid`` out; ``alone`` when no other lane still runs."""
        if not alone or len(self._lanes) < self._exact_limit:
            self._lanes[uuid] = lane
            return
        self._recent.add(_digest(uuid))
        if len(self._recent) >= RUN:
            self._runs.append(array("Q", sorted(self._recent)))
            self._recent = set()


def _holds(run: array[int], digest: int) -> bool:
    index = bisect.bisect_left(run, digest)
    return index < len(run) and run[index] == digest
