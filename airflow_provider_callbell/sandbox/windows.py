"""WhatsApp's 24-hour customer service window: when each customer last wrote.

This is the sandbox's own state, kept beside the contacts, never in their
bodies. A seeded contact's last message is drawn from the seed and its uuid,
relative to when the windows were made: about half of them wrote in the last
12 hours (so their window stays open for at least 12 more), the others 25
hours to 30 days before. A contact added later has not written until it does.
"""

from __future__ import annotations

from airflow_provider_callbell.sandbox.catalog import seeded_random

WINDOW_SECONDS = 24 * 3600
_HOUR = 3600
_SEEDED_OPEN_SHARE = 0.5
_SEEDED_OPEN_SPAN = (0, 12 * _HOUR)
_SEEDED_CLOSED_SPAN = (25 * _HOUR, 30 * 24 * _HOUR)


class CustomerWindows:
    """The time of each customer's last message; callers hold the store's lock."""

    def __init__(self, seed: int, started: float) -> None:
        """Seed the history of the seeded contacts as of ``started`` (epoch seconds)."""
        self._seed = seed
        self._started = started
        #: Contacts whose history is no longer the seeded one; None: never wrote.
        self._last: dict[str, float | None] = {}

    def is_open(self, uuid: str, now: float) -> bool:
        """Whether the customer of contact ``uuid`` wrote within 24 hours of ``now``."""
        last = self._last[uuid] if uuid in self._last else self._seeded(uuid)
        return last is not None and now - last < WINDOW_SECONDS

    def wrote(self, uuid: str, when: float) -> None:
        """Record that the customer of contact ``uuid`` wrote at ``when``."""
        self._last[uuid] = when

    def close(self, uuid: str, now: float) -> None:
        """Make the customer's last message older than the window."""
        self._last[uuid] = now - WINDOW_SECONDS - _HOUR

    def added(self, uuid: str) -> None:
        """A contact was added: its customer has not written yet."""
        self._last[uuid] = None

    def forget(self, uuid: str) -> None:
        """A contact was deleted: drop its history."""
        self._last.pop(uuid, None)

    def _seeded(self, uuid: str) -> float:
        rng = seeded_random(f"window-{uuid}", self._seed)
        span = _SEEDED_OPEN_SPAN if rng.random() < _SEEDED_OPEN_SHARE else _SEEDED_CLOSED_SPAN
        return self._started - rng.uniform(*span)
