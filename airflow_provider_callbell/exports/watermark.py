"""Incremental exports: each run exports the contacts created since the last successful one.

The high-water mark is kept in an Airflow Variable, one per task, so it lives in Airflow's own
database on every Airflow version and every kind of run (scheduled, manual, backfilled,
asset-triggered), and an operator can read or reset it in the UI. Beside the mark the Variable
remembers the window of each recent run: a retried or cleared run exports its own window
again instead of whatever is new by then, so it never replaces its earlier output with less.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_callbell.arguments import RepeatedNameError, unique_names

#: The longest key an Airflow Variable has.
MAX_KEY_LENGTH = 250

#: Contacts created this close to a run's start wait for the next run, so a difference of up to
#: this much between Airflow's clock and Callbell's loses no contact.
SETTLE = timedelta(minutes=1)
#: Windows of this many recent runs are remembered for retries and cleared runs.
KEPT_RUNS = 100


def default_key(dag_id: str, task_id: str) -> str:
    """The Variable holding the mark of one export task; past the 250 characters a Variable's key
    holds, its DAG and task ids are named by their digest."""
    key = f"callbell_watermark.{dag_id}.{task_id}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"callbell_watermark.{hashlib.sha256(f'{dag_id}.{task_id}'.encode()).hexdigest()}"


@dataclass(frozen=True)
class Window:
    """The contacts one run exports: created at or after ``created_after`` and before ``created_before``."""

    created_after: datetime | None
    created_before: datetime

    def dump(self) -> list[str | None]:
        return [_iso(self.created_after), _iso(self.created_before)]


@dataclass
class Watermark:
    """Everything created before ``created_before`` has been exported; the windows of recent runs."""

    created_before: datetime | None = None
    runs: dict[str, Window] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, key: str) -> Watermark:
        """The mark stored in Variable ``key``; a clear error when someone stored something else."""
        if value is None:
            return cls()
        try:
            unknown = sorted(set(value) - {"created_before", "runs"})
            if unknown:
                raise ValueError(
                    f"it names {', '.join(map(repr, unknown))}; a mark holds created_before, runs"
                )
            runs = {str(run_id): _window(*bounds) for run_id, bounds in value.get("runs", {}).items()}
            return cls(_moment(value.get("created_before"), "created_before"), runs)
        except (AttributeError, TypeError, ValueError) as error:
            raise no_mark(key, str(error)) from None

    def dump(self) -> dict[str, Any]:
        runs = {run_id: window.dump() for run_id, window in self.runs.items()}
        return {"created_before": _iso(self.created_before), "runs": runs}

    def window_for(self, run_id: str, now: datetime, floor: datetime | None = None) -> Window:
        """The window of ``run_id``: the one it had before, else from the mark (or ``floor``) to now."""
        if run_id in self.runs:
            return self.runs[run_id]
        after = max((moment for moment in (self.created_before, floor) if moment), default=None)
        before = now - SETTLE
        window = Window(after, max(before, after) if after else before)
        self.runs[run_id] = window
        while len(self.runs) > KEPT_RUNS:
            del self.runs[next(iter(self.runs))]
        return window

    def advance(self, window: Window) -> None:
        """Move the mark past ``window``, exported in full."""
        if self.created_before is None or window.created_before > self.created_before:
            self.created_before = window.created_before


def no_mark(key: str, why: str) -> ValueError:
    """The error of a Variable ``key`` that holds something else than a mark, and what to do."""
    return ValueError(
        f"Variable {key!r} does not hold a Callbell export watermark ({why}): delete it to export "
        'everything again, or set it to {"created_before": "<ISO 8601 moment>"}'
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _moment(value: Any, what: str) -> datetime | None:
    """A moment read by the rule of ``created_after``; only text, as the mark is JSON."""
    from airflow_provider_callbell.api.selection import parse_moment

    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what} must be an ISO 8601 string, got a {type(value).__name__}")
    return parse_moment(value, what)


def _window(start: Any, end: Any) -> Window:
    after, before = _moment(start, "a run's start"), _required(_moment(end, "a run's end"))
    if after is not None and after > before:
        raise ValueError(f"a run's window starts ({after.isoformat()}) after it ends ({before.isoformat()})")
    return Window(after, before)


def _required(moment: datetime | None) -> datetime:
    if moment is None:
        raise ValueError("a run's window has no end")
    return moment


class VariableWatermark:
    """A :class:`Watermark` kept in the Airflow Variable ``key``."""

    def __init__(self, key: str) -> None:
        self.key = key

    def load(self) -> Watermark:
        from airflow.providers.common.compat.sdk import Variable

        # Read as text: Airflow 3 turns a value that is not JSON into the default, which would
        # mean "no mark" and have the next save overwrite what someone stored.
        text = Variable.get(self.key, None)
        if text is None:
            return Watermark()
        try:
            value = json.loads(text, object_pairs_hook=unique_names)
        except RepeatedNameError as error:
            raise no_mark(self.key, f"an object {error}") from None
        except (ValueError, RecursionError):
            raise no_mark(self.key, "it is not JSON") from None
        return Watermark.parse(value, self.key)

    def save(self, mark: Watermark) -> None:
        from airflow.providers.common.compat.sdk import Variable

        description = "High-water mark of a Callbell contact export (airflow-provider-callbell)"
        Variable.set(self.key, mark.dump(), description, serialize_json=True)
