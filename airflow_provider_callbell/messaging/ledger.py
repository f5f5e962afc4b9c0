"""What a task instance has sent, kept in Airflow's own state so that retries and re-runs skip it.

A row is marked ``sending`` (with the time) before its message goes out and ``sent`` (with the
message's uuid and status) once Callbell took it. A retry skips sent rows; a row left
``sending`` — the task died in between — is looked for in Callbell by its idempotency key
before anything is sent again.

On Airflow 3.3 the marks live in the task state store, which retries, reschedules, deferrals
and clears of the task share within its DAG run. Before 3.3 they live in one Variable per task
instance and run, rewritten at each mark: fine for the batches a notifier or a campaign sends,
heavier for many thousands of messages.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

PREFIX = "callbell_message."


class Ledger(Protocol):
    """Marks of one task instance's rows, by row key."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The row's mark, or None."""

    def put(self, key: str, mark: dict[str, Any]) -> None:
        """Store the row's mark."""


def sending_mark() -> dict[str, Any]:
    """The mark of a row whose message is going out now."""
    return {"state": "sending", "at": datetime.now(UTC).isoformat()}


def sent_mark(message: dict[str, Any]) -> dict[str, Any]:
    """The mark of a row whose message Callbell took."""
    return {"state": "sent", "uuid": message.get("uuid"), "status": message.get("status")}


def failed_mark() -> dict[str, Any]:
    """The mark of a row Callbell refused: nothing was sent, a retry sends it."""
    return {"state": "failed"}


class TaskStateLedger:
    """Marks in the task state store of Airflow 3.3, one key a row."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def get(self, key: str) -> dict[str, Any] | None:
        mark = self._store.get(PREFIX + key)
        return mark if isinstance(mark, dict) else None

    def put(self, key: str, mark: dict[str, Any]) -> None:
        self._store.set(PREFIX + key, mark)


class VariableLedger:
    """Marks in one Airflow Variable, a JSON object of row keys to marks."""

    def __init__(self, name: str) -> None:
        from airflow.providers.common.compat.sdk import Variable

        self.name = name
        self._variable = Variable
        self._lock = threading.Lock()
        self._marks: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        stored = self._variable.get(self.name, None)
        if stored is None:
            return {}
        try:
            marks = json.loads(stored)
        except ValueError:
            marks = None
        if not isinstance(marks, dict):
            raise ValueError(f"Variable {self.name!r} does not hold Callbell message marks: delete it")
        return marks

    def get(self, key: str) -> dict[str, Any] | None:
        mark = self._marks.get(key)
        return mark if isinstance(mark, dict) else None

    def put(self, key: str, mark: dict[str, Any]) -> None:
        with self._lock:
            self._marks[key] = mark
            self._variable.set(self.name, json.dumps(self._marks))


def ledger_for(context: Context) -> Ledger:
    """The ledger of the running task instance: its state store, else a Variable."""
    store = context.get("task_state_store")
    if store is not None:
        return TaskStateLedger(store)
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    suffix = "" if map_index in (-1, None) else f".{map_index}"
    return VariableLedger(f"{PREFIX}{ti.dag_id}.{ti.task_id}.{context['run_id']}{suffix}")
