"""What a task instance has sent, kept in Airflow's own state so that retries and re-runs skip it.

A row is marked ``sending`` (with the time) before its message goes out and ``sent`` (with the
message's uuid and status) once Callbell took it. A retry skips sent rows; a row left
``sending`` — the task died in between — is looked for in Callbell by its idempotency key
before anything is sent again.

The marks live in the task instance's state (``task_state``): the task state store on Airflow
3.3, shared by retries, reschedules, deferrals and clears of the task within its DAG run;
before 3.3 one Variable per task instance and run, rewritten at each mark: fine for the batches
a notifier or a campaign sends, heavier for many thousands of messages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.task_state import TaskState

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

PREFIX = "callbell_message."


def sending_mark() -> dict[str, Any]:
    """The mark of a row whose message is going out now."""
    return {"state": "sending", "at": datetime.now(UTC).isoformat()}


def sent_mark(message: dict[str, Any]) -> dict[str, Any]:
    """The mark of a row whose message Callbell took."""
    return {"state": "sent", "uuid": message.get("uuid"), "status": message.get("status")}


def failed_mark() -> dict[str, Any]:
    """The mark of a row Callbell refused: nothing was sent, a retry sends it."""
    return {"state": "failed"}


class Ledger:
    """Marks of one task instance's rows, kept in its state, one key a row."""

    def __init__(self, state: TaskState) -> None:
        self._state = state

    def get(self, key: str) -> dict[str, Any] | None:
        """The row's mark, or None."""
        mark = self._state.get(PREFIX + key)
        return mark if isinstance(mark, dict) else None

    def put(self, key: str, mark: dict[str, Any]) -> None:
        """Store the row's mark."""
        self._state.set(PREFIX + key, mark)


def ledger_for(context: Context) -> Ledger:
    """The ledger of the running task instance."""
    return Ledger(TaskState(context))
