"""Where a sensor keeps its starting snapshot between pokes, reschedules and retries.

Airflow 3.3 gives each task instance a ``task_state_store`` shared across retries,
reschedules and deferral. Older Airflow clears a task's XComs at every reschedule, so there the
snapshot lives in an Airflow Variable named after the task instance, deleted when the sensor
finishes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class WatchState:
    """A JSON document kept for one task instance of one DAG run."""

    KEY = "callbell_new_leads_watch"

    def __init__(self, context: Context) -> None:
        self._store = context.get("task_state_store")
        ti = context["ti"]
        self._variable = f"{self.KEY}__{ti.dag_id}__{ti.task_id}__{ti.run_id}__{ti.map_index}"

    def load(self) -> dict[str, Any] | None:
        """The saved document, or ``None``."""
        if self._store is not None:
            document = self._store.get(self.KEY, None)
        else:
            from airflow.providers.common.compat.sdk import Variable

            document = Variable.get(self._variable, None, deserialize_json=True)
        return document if isinstance(document, dict) else None

    def save(self, document: dict[str, Any]) -> None:
        """Keep ``document`` for the next poke."""
        if self._store is not None:
            self._store.set(self.KEY, document)
            return
        from airflow.providers.common.compat.sdk import Variable

        Variable.set(self._variable, document, serialize_json=True)

    def clear(self) -> None:
        """Forget the document."""
        if self._store is not None:
            self._store.delete(self.KEY)
            return
        from airflow.providers.common.compat.sdk import Variable

        Variable.delete(self._variable)
