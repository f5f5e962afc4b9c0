"""The trigger waiting, on the triggerer, for sent messages to be delivered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_callbell.arguments import MAX_POLL_INTERVAL, conn_id, identifier, seconds
from airflow_provider_callbell.connection import DEFAULT_CONN_ID
from airflow_provider_callbell.exceptions import CallbellError, CallbellTransientError
from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook
from airflow_provider_callbell.messaging.delivery import DeliveryWatch


def _uuids(uuids: Any) -> list[str]:
    """The messages' uuids: a list or a tuple of identifiers, at least one (a string is refused,
    as for every list of uuids: read letter by letter it would be uuids of one character)."""
    if not isinstance(uuids, list | tuple):
        raise ValueError(
            "uuids must be a list of message uuids, such as ['4a7c1e...'], "
            f"got {type(uuids).__name__}: {uuids!r:.80}"
        )
    if not uuids:
        raise ValueError("uuids must list at least one message uuid, got an empty list")
    return [identifier(uuid, "uuids") for uuid in uuids]


class CallbellMessageDeliveryTrigger(BaseTrigger):
    """
    Poll messages' statuses until each is delivered, read or failed; then fire once.

    The first look comes ``poll_interval`` after the start: the deferring task has just looked.

    The event carries the statuses by uuid, and ``context``: what the resumed task needs back
    (no recipient, no text). Transient errors are retried at the next poll; others end the wait
    with an ``error`` event.

    :param uuids: the messages to wait for.
    :param callbell_conn_id: the ``callbell`` connection.
    :param poll_interval: seconds between two looks.
    :param context: JSON handed back in the event.
    """

    def __init__(
        self,
        uuids: Sequence[str],
        *,
        callbell_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        context: Any = None,
    ) -> None:
        super().__init__()
        self.uuids = _uuids(uuids)
        self.callbell_conn_id = conn_id(callbell_conn_id, "callbell_conn_id")
        self.poll_interval = seconds(poll_interval, "poll_interval", 0.001, MAX_POLL_INTERVAL)
        self.context = context

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and arguments."""
        return f"{__name__}.{type(self).__name__}", {
            "uuids": self.uuids,
            "callbell_conn_id": self.callbell_conn_id,
            "poll_interval": self.poll_interval,
            "context": self.context,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Look every ``poll_interval`` seconds until every message is settled."""
        hook = CallbellAsyncHook(self.callbell_conn_id)
        watch = DeliveryWatch.of(self.uuids)
        try:
            while True:
                await asyncio.sleep(self.poll_interval)  # the task looked just before deferring
                try:
                    for uuid in watch.pending:
                        watch.update(uuid, (await hook.get_message_status(uuid)).get("status"))
                except CallbellTransientError as error:
                    self.log.warning("Reading message statuses failed, trying again later: %s", error)
                except CallbellError as error:
                    yield TriggerEvent({"status": "error", "message": str(error), "context": self.context})
                    return
                if watch.done:
                    yield TriggerEvent(
                        {"status": "done", "statuses": watch.statuses, "context": self.context}
                    )
                    return
        finally:
            await hook.aclose()
