"""A client-side request rate limit, shared by every thread or task using one client."""

from __future__ import annotations

import math

from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate, RateItem, SingleBucketFactory

# Requests reach Callbell a little earlier or later than they leave: a window this much longer
# than a second keeps every one of Callbell's seconds under the limit.
_GUARD_MS = 50


class _SlidingWindow(InMemoryBucket):
    """pyrate-limiter's sliding-window bucket, forgetting expired requests as it goes.

    Without this a background "leaker" thread per limiter does it, and lives on after the
    hook is done with it.
    """

    def __init__(self, rate: Rate) -> None:
        super().__init__([rate])
        self._keep = 2 * rate.limit

    def put(self, item: RateItem) -> bool:
        if len(self.items) > self._keep:
            self.leak(item.timestamp)
        return super().put(item)


def request_rate(max_requests_per_second: float) -> Rate:
    """At most ``max_requests_per_second`` requests starting in any one second, as Callbell counts.

    A sliding window: unlike a smooth token bucket, a request that starts a little late (a
    thread waiting for the GIL) does not waste its slot, so the rate comes close to the limit
    without passing it.
    """
    if (
        not isinstance(max_requests_per_second, int | float)
        or isinstance(max_requests_per_second, bool)
        or max_requests_per_second <= 0
    ):
        raise ValueError(f"max_requests_per_second must be a number > 0, got {max_requests_per_second!r}")
    if max_requests_per_second >= 1:
        return Rate(math.floor(max_requests_per_second), Duration.SECOND + _GUARD_MS)
    return Rate(1, math.ceil(1000 / max_requests_per_second) + _GUARD_MS)


def request_limiter(max_requests_per_second: float) -> Limiter:
    """A limiter of this process letting :func:`request_rate` requests through."""
    bucket = _SlidingWindow(request_rate(max_requests_per_second))
    return Limiter(SingleBucketFactory(bucket, schedule_leak=False), buffer_ms=0)
