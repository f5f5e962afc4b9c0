"""Where a sensor keeps its starting snapshot between pokes, reschedules and retries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.task_state import TaskState

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class WatchState:
    """The watch's JSON document, kept for one task instance of one DAG run (see ``task_state``)."""

    KEY = "callbell_new_leads_watch"

    def __init__(self, context: Context) -> None:
        self._state = TaskState(context)

    def load(self) -> dict[str, Any] | None:
        """The saved document, or ``None``."""
        document = self._state.get(self.KEY)
        return document if isinstance(document, dict) else None

    def save(self, document: dict[str, Any]) -> None:
        """Keep ``document`` for the next poke."""
        self._state.set(self.KEY, document)

    def clear(self) -> None:
        """Forget the document."""
        self._state.delete(self.KEY)
