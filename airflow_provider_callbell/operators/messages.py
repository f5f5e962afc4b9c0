"""CallbellSendMessageOperator: one message or a batch, each sent once, optionally awaited."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, BaseOperator, conf

from airflow_provider_callbell import arguments
from airflow_provider_callbell.api.messages import MESSAGE_PARTS
from airflow_provider_callbell.arguments import (
    MAX_CONCURRENCY,
    MAX_POLL_INTERVAL,
    file_path,
    flag,
    known_now,
    named_for,
    rendered,
    seconds,
    whole_number,
)
from airflow_provider_callbell.connection import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_callbell.api.messages import OutgoingMessage
    from airflow_provider_callbell.messaging.delivery import DeliveryWatch
    from airflow_provider_callbell.messaging.sender import Sent

MESSAGE_FIELDS = MESSAGE_PARTS
DEFAULT_POLL_INTERVAL, DEFAULT_DELIVERY_TIMEOUT = 10.0, 3600.0
#: A deferred wait for delivery lasts at most this long.
MAX_DELIVERY_TIMEOUT = 30 * 86_400.0


class CallbellSendMessageOperator(BaseOperator):
    """
    Send one message, or one to each row of a batch, never twice for the same row.

    Each row's message carries an idempotency key naming (DAG, task, run, map index, row,
    recipient) in its ``metadata``, and what was sent is recorded in the task instance's state
    (the task state store on Airflow 3.3, a Variable before): a retry, or the run cleared and
    run again, skips what was sent; a message whose answer was lost is looked for in Callbell
    before it is sent again. On WhatsApp, free-form text reaches only customers who wrote in the
    last 24 hours; others need an approved template: such rows fail with that advice.

    The return value: ``sent`` (now), ``earlier`` (by an earlier try), ``failed``, and
    ``messages``: per row its ``row`` number, message ``uuid``, ``status`` and ``error``.

    :param callbell_conn_id: the ``callbell`` connection.
    :param to: the recipient's phone number, for one message. (templated)
    :param messages: a batch: rows with ``to`` (or ``phoneNumber``, as a contact export writes
        it) and any of ``text``, ``template_uuid``, ``template_values``, ``media_url``,
        ``media_type``, ``channel``, ``channel_uuid``, ``metadata`` overriding the arguments
        below (an exported contact's ``channel`` object is ignored). (templated)
    :param input_path: a batch in a JSON Lines, JSON, CSV or Parquet file. (templated)
    :param input_format: its format; by default from its suffix. (templated)
    :param input_conn_id: the object-storage connection of ``input_path``. (templated)
    :param text: the text. (templated)
    :param template_uuid: an approved template, needed outside the 24-hour window. (templated)
    :param template_values: the template's placeholder values, in order: non-blank texts.
        (templated)
    :param media_url: a public http(s) URL of an image, document, audio or video. (templated)
    :param media_type: ``image`` (default with ``media_url``), ``document``, ``audio``, ``video``.
        (templated)
    :param channel: the channel type in lowercase, ``whatsapp`` by default. (templated)
    :param channel_uuid: the channel to send from, when the account has several. (templated)
    :param metadata: text values kept with each message (at most 9 keys). (templated)
    :param max_failures: how many rows may fail (sending or delivery) before the task does
        (default 0); it fails only after every row was tried.
    :param concurrency: messages sent at once, under the connection's rate limit.
    :param wait_for_delivery: wait until every sent message is delivered, read or failed, and
        fail when deliveries failed (beyond ``max_failures``).
    :param poll_interval: seconds (or a ``timedelta``) between two looks at the statuses while
        waiting (default 10); only with ``wait_for_delivery``.
    :param delivery_timeout: seconds (or a ``timedelta``) to wait for deliveries at most
        (default 3600); only with ``wait_for_delivery``.
    :param deferrable: wait for deliveries on the triggerer (default: ``[operators]
        default_deferrable``).
    """

    template_fields: Sequence[str] = (
        "to",
        "messages",
        "input_path",
        "input_format",
        "input_conn_id",
        *MESSAGE_FIELDS,
    )
    ui_color = "#d7f5e1"

    def __init__(
        self,
        *,
        callbell_conn_id: str = DEFAULT_CONN_ID,
        to: str | None = None,
        messages: Any = None,
        input_path: str | None = None,
        input_format: str | None = None,
        input_conn_id: str | None = None,
        text: str | None = None,
        template_uuid: str | None = None,
        template_values: Any = None,
        media_url: str | None = None,
        media_type: str | None = None,
        channel: str = "whatsapp",
        channel_uuid: str | None = None,
        metadata: Any = None,
        max_failures: int = 0,
        concurrency: int = 4,
        wait_for_delivery: bool = False,
        poll_interval: float | timedelta | None = None,
        delivery_timeout: float | timedelta | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.callbell_conn_id = callbell_conn_id
        self.to = to
        self.messages = messages
        self.input_path = input_path
        self.input_format = input_format
        self.input_conn_id = input_conn_id
        self.text = text
        self.template_uuid = template_uuid
        self.template_values = template_values
        self.media_url = media_url
        self.media_type = media_type
        self.channel = channel
        self.channel_uuid = channel_uuid
        self.metadata = metadata
        with named_for(self):
            arguments.conn_id(callbell_conn_id, "callbell_conn_id")
            if [to, messages, input_path].count(None) != 2:
                raise ValueError("give one of to (one message), messages or input_path (a batch)")
            if input_path is None and (input_format is not None or input_conn_id is not None):
                raise ValueError("input_format and input_conn_id need input_path")
            self.max_failures = whole_number(max_failures, "max_failures", minimum=0)
            self.concurrency = whole_number(concurrency, "concurrency", maximum=MAX_CONCURRENCY)
            self.wait_for_delivery = flag(wait_for_delivery, "wait_for_delivery")
            if not self.wait_for_delivery and (poll_interval, delivery_timeout) != (None, None):
                raise ValueError("poll_interval and delivery_timeout need wait_for_delivery=True")
            self.poll_interval = seconds(
                DEFAULT_POLL_INTERVAL if poll_interval is None else poll_interval,
                "poll_interval",
                0.001,
                MAX_POLL_INTERVAL,
            )
            self.delivery_timeout = seconds(
                DEFAULT_DELIVERY_TIMEOUT if delivery_timeout is None else delivery_timeout,
                "delivery_timeout",
                0.001,
                MAX_DELIVERY_TIMEOUT,
            )
            self.deferrable = flag(deferrable, "deferrable")
        self._check(at_parse_time=True)

    def _check(self, *, at_parse_time: bool = False) -> dict[str, Any]:
        """The message parts every row starts from, checked as far as they are known."""
        from airflow_provider_callbell.api.messages import (
            OutgoingMessage,
            check_parts,
            known_parts,
            rendered_parts,
        )

        resolve = known_now if at_parse_time else (lambda given: given)
        with named_for(self):
            parts = {name: getattr(self, name) for name in MESSAGE_FIELDS}
            defaults = known_parts(parts) if at_parse_time else rendered_parts(parts)
            to = resolve(self.to)
            if to is not None:
                OutgoingMessage(to=to, **defaults)
            else:
                check_parts(**defaults)
            rendered(resolve(self.messages), "messages", list)
            if resolve(self.input_conn_id) is not None:
                arguments.conn_id(self.input_conn_id, "input_conn_id")
            path, input_format = resolve(self.input_path), resolve(self.input_format)
            if self.input_path is not None and (self.input_format is None or input_format is not None):
                from airflow_provider_callbell.exports.formats import known_format

                known_format(
                    None if path is None else file_path(path, "input_path"), input_format, side="input"
                )
            return defaults

    def execute(self, context: Context) -> dict[str, Any]:
        """Send every row's message once; wait for deliveries if asked."""
        from airflow_provider_callbell.hooks.callbell import CallbellHook
        from airflow_provider_callbell.messaging.ledger import ledger_for
        from airflow_provider_callbell.messaging.sender import BatchSend

        defaults = self._check()
        ti = context["ti"]
        scope = (ti.dag_id, ti.task_id, context["run_id"], getattr(ti, "map_index", -1))
        hook = CallbellHook(callbell_conn_id=self.callbell_conn_id)
        started = time.monotonic()
        with contextlib.closing(hook):
            batch = BatchSend(hook, ledger_for(context), scope, self.concurrency)
            results = [self._logged(sent) for sent in batch.run(self._rows(defaults))]
        summary = _summary(results)
        self.log.info(
            "Sent %d messages in %.1f s (%d sent by an earlier try, %d failed)",
            summary["sent"],
            time.monotonic() - started,
            summary["earlier"],
            summary["failed"],
        )
        if not results:
            self.log.warning("The batch holds no rows: nothing was sent")
        self._check_failures(summary, "could not be sent")
        uuids = [row["uuid"] for row in summary["messages"] if row["uuid"]]
        if not self.wait_for_delivery or not uuids:
            return summary
        watch = self._await_deliveries(hook, uuids)
        _apply(summary, watch.statuses)
        if not watch.done:
            self._defer(watch.pending, summary)
        return self._delivered(summary)

    def _rows(self, defaults: Mapping[str, Any]) -> Iterable[tuple[int, Callable[[], OutgoingMessage]]]:
        from airflow_provider_callbell.messaging.batch import message_of

        rows = [{"to": self.to}] if self.to is not None else self._batch()
        return ((number, partial(message_of, row, defaults)) for number, row in enumerate(rows, 1))

    def _batch(self) -> Iterable[Any]:
        if self.messages is not None:
            with named_for(self):
                rows: list[Any] = rendered(self.messages, "messages", list)
            return rows
        from airflow_provider_callbell.exports.readers import InputFile

        path = file_path(self.input_path, "input_path")
        read = InputFile(path, self.input_conn_id, self.input_format, ("to", "phoneNumber"))
        deque(read(), maxlen=0)  # a file that cannot be read fails before any send
        return read()

    def _logged(self, sent: Sent) -> dict[str, Any]:
        if sent.error:
            self.log.warning("Row %d failed: %s", sent.row, sent.error)
        return {**sent.as_dict(), "earlier": sent.earlier}

    def _check_failures(self, summary: Mapping[str, Any], what: str) -> None:
        failed = summary["failed"]
        if failed > self.max_failures:
            raise AirflowException(
                f"{failed} messages {what}, more than max_failures={self.max_failures}: see the reasons above"
            )

    def _await_deliveries(self, hook: Any, uuids: list[str]) -> DeliveryWatch:
        """One look at the statuses; then, unless deferrable, more until all are settled."""
        from airflow_provider_callbell.messaging.delivery import DeliveryWatch

        watch = DeliveryWatch.of(uuids)
        deadline = time.monotonic() + self.delivery_timeout
        with contextlib.closing(hook):
            while True:
                for uuid in watch.pending:
                    watch.update(uuid, hook.get_message_status(uuid).get("status"))
                if watch.done or self.deferrable:
                    return watch
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AirflowException(
                        f"{len(watch.pending)} messages were not delivered within delivery_timeout="
                        f"{self.delivery_timeout:g} s"
                    )
                time.sleep(min(self.poll_interval, left))  # the last look comes at the deadline

    def _defer(self, uuids: list[str], summary: dict[str, Any]) -> None:
        from airflow_provider_callbell.triggers.messages import CallbellMessageDeliveryTrigger

        trigger = CallbellMessageDeliveryTrigger(
            uuids, callbell_conn_id=self.callbell_conn_id, poll_interval=self.poll_interval, context=summary
        )
        self.defer(
            trigger=trigger, method_name="execute_complete", timeout=timedelta(seconds=self.delivery_timeout)
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Resume once every message is settled: the statuses, or fail on failed deliveries."""
        if not event or event.get("status") != "done":
            message = (event or {}).get("message", "the delivery trigger ended without an event")
            raise AirflowException(f"Waiting for deliveries failed: {message}")
        summary = event["context"]
        _apply(summary, event["statuses"])
        return self._delivered(summary)

    def _delivered(self, summary: dict[str, Any]) -> dict[str, Any]:
        """``summary`` once deliveries are settled; fail when failures pass ``max_failures``."""
        self._check_failures(summary, "were not sent or not delivered")
        return summary


def _apply(summary: dict[str, Any], statuses: Mapping[str, str | None]) -> None:
    """Put the messages' statuses in ``summary``; a failed delivery is a failed row."""
    for row in summary["messages"]:
        if row["uuid"] in statuses:
            row["status"] = statuses[row["uuid"]]
            if row["status"] == "failed" and not row["error"]:
                row["error"] = "delivery failed"
                summary["failed"] += 1


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    failed = sum(1 for row in results if row["error"])
    earlier = sum(1 for row in results if row.pop("earlier"))
    return {
        "sent": len(results) - failed - earlier,
        "earlier": earlier,
        "failed": failed,
        "messages": results,
    }
