"""A client-side request rate limit, shared by every thread or task using one client."""

from __future__ import annotations

from pyrate_limiter import Limiter, Rate, SingleBucketFactory, StateBucket, TokenBucket

_PRECISION = 1000


def request_limiter(max_requests_per_second: float) -> Limiter:
    """A limiter that spaces requests evenly, at most ``max_requests_per_second`` of them.

    A burst of one keeps any one-second window at or under the limit as the server counts it,
    whatever the number of threads drawing from the limiter.
    """
    if (
        not isinstance(max_requests_per_second, int | float)
        or isinstance(max_requests_per_second, bool)
        or max_requests_per_second <= 0
    ):
        raise ValueError(f"max_requests_per_second must be a number > 0, got {max_requests_per_second!r}")
    rate = Rate(round(max_requests_per_second * _PRECISION), 1000 * _PRECISION, burst=1)
    bucket = StateBucket([rate], algorithm=TokenBucket())
    return Limiter(SingleBucketFactory(bucket, schedule_leak=False), buffer_ms=0)
