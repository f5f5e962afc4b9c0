"""State one task instance keeps across its retries, reschedules, deferrals and clears.

Airflow 3.3 gives each task instance a ``task_state_store`` scoped to its DAG run. Older Airflow
clears a task's XComs at every try, so there the state lives in one Airflow Variable per task
instance and run, a JSON object of the keys set, rewritten at each change and deleted once
empty.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

VARIABLE_PREFIX = "callbell_task_state"


class TaskState:
    """JSON values by key, kept for the running task instance."""

    def __init__(self, context: Context) -> None:
        self._store = context.get("task_state_store")
        ti = context["ti"]
        self.variable = f"{VARIABLE_PREFIX}__{ti.dag_id}__{ti.task_id}__{ti.run_id}__{ti.map_index}"
        self._lock = threading.Lock()
        self._values: dict[str, Any] | None = None

    def get(self, key: str) -> Any:
        """The value of ``key``, or None."""
        if self._store is not None:
            return self._store.get(key, None)
        return self._variable_values().get(key)

    def set(self, key: str, value: Any) -> None:
        """Keep ``value`` (JSON, not None) under ``key``."""
        if self._store is not None:
            self._store.set(key, value)
            return
        with self._lock:
            values = self._variable_values()
            values[key] = value
            self._write(values)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        if self._store is not None:
            self._store.delete(key)
            return
        with self._lock:
            values = self._variable_values()
            values.pop(key, None)
            self._write(values)

    def _variable_values(self) -> dict[str, Any]:
        if self._values is None:
            from airflow.providers.common.compat.sdk import Variable

            stored = Variable.get(self.variable, None)
            values = _parsed(stored) if stored is not None else {}
            if values is None:
                raise ValueError(f"Variable {self.variable!r} does not hold Callbell task state: delete it")
            self._values = values
        return self._values

    def _write(self, values: dict[str, Any]) -> None:
        from airflow.providers.common.compat.sdk import Variable

        if values:
            Variable.set(self.variable, json.dumps(values))
        else:
            Variable.delete(self.variable)


def _parsed(stored: str) -> dict[str, Any] | None:
    try:
        values = json.loads(stored)
    except ValueError:
        return None
    return values if isinstance(values, dict) else None
