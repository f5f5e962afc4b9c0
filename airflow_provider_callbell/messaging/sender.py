"""Sending a batch: each row's message once, whatever retries, clears and lost answers happen.

Each row's idempotency key names the (DAG, task, run, map index, row, recipient) for good.
The ledger is read and written in the calling thread only (Airflow's state clients are not
shared across threads); the sends run side by side on a thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.api.messages import OutgoingMessage, idempotency_key
from airflow_provider_callbell.arguments import phone_key
from airflow_provider_callbell.batches import BATCH_FATAL, done, in_order, window_for
from airflow_provider_callbell.exceptions import CallbellClientError, CallbellError, CallbellNotFoundError
from airflow_provider_callbell.messaging.ledger import Ledger, sending_mark, sent_mark

if TYPE_CHECKING:
    from airflow_provider_callbell.hooks.callbell import CallbellHook


@dataclass(frozen=True)
class Sent:
    """What became of one row: its message's ``uuid`` and ``status``, or the ``error``.

    ``earlier`` tells that an earlier try of the task had sent it.
    """

    row: int
    uuid: str | None = None
    status: str | None = None
    error: str | None = None
    earlier: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The row's line of the task's return value: no recipient, no text."""
        return {"row": self.row, "uuid": self.uuid, "status": self.status, "error": self.error}


#: Refusals of one row: nothing was sent, so the row is marked failed and a retry sends it.
#: Any other Callbell error of a row (an uncertain answer, a 5xx after the hook's retries) fails
#: the row too, but its mark stays ``sending``: the message may be out, a retry looks first.
REFUSALS = (ValueError, CallbellClientError, CallbellNotFoundError)


@dataclass
class BatchSend:
    """Sends rows' messages through ``hook``, marking them in ``ledger``.

    :param scope: what names this task instance's run for good (DAG, task, run, map index).
    """

    hook: CallbellHook
    ledger: Ledger
    scope: tuple[object, ...]
    concurrency: int = 4

    def run(self, messages: Iterable[tuple[int, Callable[[], OutgoingMessage]]]) -> Iterator[Sent]:
        """Each row's outcome, in row order; ``messages`` gives (row number, its message's maker)."""
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="callbell-send") as pool:
            started = (self._start(pool, number, make) for number, make in messages)
            for sent, key in in_order(started, window_for(self.concurrency)):
                if key is not None:
                    self.ledger.put(
                        key, sent_mark(sent.as_dict()) if sent.error is None else {"state": "failed"}
                    )
                yield sent

    def _start(
        self, pool: ThreadPoolExecutor, number: int, make: Callable[[], OutgoingMessage]
    ) -> Future[tuple[Sent, str | None]]:
        try:
            message = make()
        except ValueError as error:
            return done((Sent(number, error=f"row {number} {error}"), None))
        # the number's digits: a retry that writes it another way is still the same message
        key = idempotency_key(*self.scope, number, phone_key(message.to))
        mark = self.ledger.get(key) or {}
        if mark.get("state") == "sent":
            return done((Sent(number, mark.get("uuid"), mark.get("status"), earlier=True), None))
        since = datetime.fromisoformat(mark["at"]) if mark.get("state") == "sending" else None
        if since is None:
            # A mark already there keeps the first try's time: its message is looked for from then.
            self.ledger.put(key, sending_mark())
        return pool.submit(self._send, number, message, key, since)

    def _send(
        self, number: int, message: OutgoingMessage, key: str, since: datetime | None
    ) -> tuple[Sent, str | None]:
        try:
            found = None if since is None else self.hook.find_sent_message(message, key, since=since)
            if found is not None:
                return Sent(number, found.get("uuid"), found.get("status"), earlier=True), key
            sent = self.hook.send_message(message, idempotency_key=key)
        except BATCH_FATAL:
            raise
        except REFUSALS as error:
            return Sent(number, error=str(error)), key
        except CallbellError as error:
            return Sent(number, error=str(error)), None
        return Sent(number, sent.get("uuid"), sent.get("status")), key
