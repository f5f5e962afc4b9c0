"""Traffic accounting: the per-token rate limiter and the request statistics."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Clock = Callable[[], float]

_WINDOW = 1.0


def _evict(window: deque[float], now: float) -> None:
    while window and window[0] <= now - _WINDOW:
        window.popleft()


class RateLimiter:
    """Admits at most ``limit`` requests per key in any sliding 1-second window.

    Rejected requests do not take a slot, so a client that waits as told gets
    through.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        """Create a limiter that reads time from ``clock``."""
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}

    def acquire(self, key: str, limit: float) -> float | None:
        """Admit one request for ``key``.

        Returns:
            None when admitted, else the seconds until a slot frees up.
        """
        with self._lock:
            now = self._clock()
            window = self._windows.setdefault(key, deque())
            _evict(window, now)
            if len(window) >= limit:
                return window[0] + _WINDOW - now
            window.append(now)
            return None


@dataclass(frozen=True)
class SandboxStats:
    """A snapshot of what the sandbox has served since start or reset.

    ``by_method`` counts requests by HTTP method (``GET``, ``POST``, ``PATCH``,
    ``DELETE``) as they arrive, refused ones included, so its counts add up
    to ``total_requests``; ``by_status`` counts answered requests by status
    code (dropped connections and lost replies have none); ``faults`` counts
    injected faults by kind (``error``, ``throttle``, ``drop``, ``truncate``,
    ``lost_reply``);
    ``rate_limited`` counts the 429s of the real rate limiter;
    ``max_requests_per_second`` is the most requests that arrived within any
    sliding 1-second window.
    """

    total_requests: int
    by_method: Mapping[str, int]
    by_status: Mapping[int, int]
    faults: Mapping[str, int]
    rate_limited: int
    max_requests_per_second: int


class RequestStats:
    """Thread-safe counters behind :class:`SandboxStats`."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        """Create empty statistics that read time from ``clock``."""
        self._clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything counted so far."""
        with self._lock:
            self._requests = 0
            self._by_method: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self._faults: Counter[str] = Counter()
            self._rate_limited = 0
            self._arrivals: deque[float] = deque()
            self._max_per_second = 0

    def arrived(self, method: str) -> None:
        """Count a request with HTTP ``method`` as it arrives."""
        with self._lock:
            now = self._clock()
            self._requests += 1
            self._by_method[method] += 1
            _evict(self._arrivals, now)
            self._arrivals.append(now)
            self._max_per_second = max(self._max_per_second, len(self._arrivals))

    def responded(self, status: int) -> None:
        """Count a response with ``status``."""
        with self._lock:
            self._by_status[status] += 1

    def fault(self, kind: str) -> None:
        """Count an injected fault of ``kind``."""
        with self._lock:
            self._faults[kind] += 1

    def rate_limited(self) -> None:
        """Count a request the rate limiter turned away."""
        with self._lock:
            self._rate_limited += 1

    def snapshot(self) -> SandboxStats:
        """The current counts, detached from further updates."""
        with self._lock:
            return SandboxStats(
                total_requests=self._requests,
                by_method=dict(self._by_method),
                by_status=dict(self._by_status),
                faults=dict(self._faults),
                rate_limited=self._rate_limited,
                max_requests_per_second=self._max_per_second,
            )
