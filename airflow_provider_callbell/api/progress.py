"""Progress lines for long walks: one every few seconds, never one per request."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_callbell.api.logs import Log


class WalkProgress:
    """Logs how many pages and items a walk has read, at most once per ``interval`` seconds."""

    def __init__(
        self,
        log: Log,
        *,
        what: str = "contacts",
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._what = what
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_report = self._started
        self.pages = 0
        self.items = 0

    @property
    def elapsed(self) -> float:
        """Seconds since the walk started."""
        return self._clock() - self._started

    def update(self, *, pages: int, items: int) -> None:
        """Record the running totals; log them when ``interval`` has passed since the last line."""
        self.pages, self.items = pages, items
        now = self._clock()
        if now - self._last_report >= self._interval:
            self._last_report = now
            self._log.info("Read %s so far", self.summary())

    def summary(self) -> str:
        """The totals, e.g. ``1,200 contacts in 60 pages, 3.1 s, 387 contacts/s``."""
        elapsed = self.elapsed
        rate = self.items / elapsed if elapsed > 0 else 0.0
        return (
            f"{self.items:,} {self._what} in {self.pages:,} pages, "
            f"{elapsed:.1f} s, {rate:,.0f} {self._what}/s"
        )
