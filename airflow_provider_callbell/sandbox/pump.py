"""The background thread that applies live events at the configured rate."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_callbell.sandbox.events import EventSource
    from airflow_provider_callbell.sandbox.settings import SandboxSettings

#: How far behind schedule the pump may fall before it forgets the backlog:
#: a late pump catches up with at most this many seconds' worth of events.
_MAX_BACKLOG = 1.0


class Schedule:
    """Evenly spaced due times at a rate that may change."""

    def __init__(self) -> None:
        self._rate = 0.0
        self._due = 0.0

    def wait(self, rate: float, now: float) -> float | None:
        """Seconds until the next event is due (<= 0: now); None at rate 0.

        A new rate starts afresh: its first event is one interval away.
        """
        if rate != self._rate:
            self._rate, self._due = rate, now + 1 / rate if rate else 0.0
        if not rate:
            return None
        self._due = max(self._due, now - _MAX_BACKLOG)
        return self._due - now

    def advance(self) -> None:
        """Count the due event as applied."""
        self._due += 1 / self._rate


class EventPump:
    """Applies events from a daemon thread at ``events_per_second``.

    The rate is read from ``settings`` before every event; call :meth:`wake`
    after changing it. Pausing is immediate: once :meth:`pause` returns, no
    event is applied until :meth:`resume`.
    """

    def __init__(self, source: EventSource, settings: Callable[[], SandboxSettings]) -> None:
        """Apply events of ``source`` under the current ``settings()``."""
        self._source = source
        self._settings = settings
        self._condition = threading.Condition()
        self._paused = False
        self._running = False
        self._thread: threading.Thread | None = None

    @property
    def paused(self) -> bool:
        """Whether events are paused."""
        return self._paused

    def start(self) -> None:
        """Start the thread."""
        with self._condition:
            self._running = True
            self._thread = threading.Thread(target=self._run, name="callbell-sandbox-events", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it; a no-op when not started."""
        self._running = False
        with self._condition:
            self._condition.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def pause(self) -> None:
        """Apply no more events until :meth:`resume`; waits for one being applied."""
        # Set before taking the lock: the thread checks it before every
        # event, so even a thread catching up in a loop lets go at once.
        self._paused = True
        with self._condition:
            self._condition.notify_all()

    def resume(self) -> None:
        """Apply events again, the next one an interval from now."""
        with self._condition:
            self._paused = False
            self._condition.notify_all()

    def wake(self) -> None:
        """Make the thread read the settings again."""
        with self._condition:
            self._condition.notify_all()

    def _run(self) -> None:
        schedule = Schedule()
        with self._condition:
            while self._running:
                settings = self._settings()
                rate = 0.0 if self._paused else settings.events_per_second
                delay = schedule.wait(rate, time.monotonic())
                if delay is None or delay > 0:
                    self._condition.wait(delay)
                    continue
                self._source.apply(settings, 1)
                schedule.advance()
