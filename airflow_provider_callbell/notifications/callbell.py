"""CallbellNotifier: a WhatsApp (or other channel) message from an Airflow callback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.providers.common.compat.notifier import BaseNotifier

from airflow_provider_callbell import arguments
from airflow_provider_callbell.api.messages import MESSAGE_PARTS
from airflow_provider_callbell.arguments import is_template, named_for, phone_number, string_list
from airflow_provider_callbell.connection import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_callbell.api.messages import OutgoingMessage
    from airflow_provider_callbell.exceptions import CallbellError

#: The text sent when neither ``text`` nor ``template_uuid`` is given; it renders in task, DAG
#: and deadline callbacks alike.
DEFAULT_TEXT = (
    "Airflow{% if dag is defined and dag %}: DAG {{ dag.dag_id }}{% endif %}"
    "{% if ti is defined and ti %}, task {{ ti.task_id }} is "
    "{{ ti.state.value if ti.state.value is defined else ti.state }}{% endif %}"
    "{% if run_id is defined and run_id %} (run {{ run_id }}){% endif %}"
)

#: The parts of a message a notifier sends: any but media.
NOTIFIER_PARTS = tuple(part for part in MESSAGE_PARTS if not part.startswith("media_"))


class CallbellNotifier(BaseNotifier):
    """
    Send a message to one or more phone numbers from a callback: ``on_failure_callback``,
    ``on_success_callback``, ``on_retry_callback``, SLA misses and deadline alerts.

    Text and template values are rendered with the callback's context, e.g. ``"{{ ti.task_id }}
    failed"``. Outside WhatsApp's 24-hour window only an approved template is delivered: give
    ``template_uuid`` for recipients who may not have written lately. Each message carries an
    idempotency key, so a lost answer is looked up rather than sent twice. Runs synchronously in
    callbacks, and asynchronously (``async_notify``) where Airflow awaits notifiers.

    :param to: the recipients' phone numbers: a list or a comma-separated string. (templated)
    :param text: the text; by default a line naming the DAG, task, state and run. (templated)
    :param template_uuid: an approved template to send instead of free text. (templated)
    :param template_values: its placeholder values, in order: a list, or a template rendering
        one. (templated)
    :param channel: the channel type, ``whatsapp`` by default. (templated)
    :param channel_uuid: the channel to send from, when the account has several. (templated)
    :param metadata: text values kept with each message: a mapping, or a template rendering
        one. (templated)
    :param callbell_conn_id: the ``callbell`` connection.
    """

    template_fields: Sequence[str] = (
        "to",
        "text",
        "template_uuid",
        "template_values",
        "channel",
        "channel_uuid",
        "metadata",
    )

    def __init__(
        self,
        *,
        to: str | Sequence[str],
        text: str | None = None,
        template_uuid: str | None = None,
        template_values: Sequence[str] | str | None = None,
        channel: str = "whatsapp",
        channel_uuid: str | None = None,
        metadata: dict[str, str] | str | None = None,
        callbell_conn_id: str = DEFAULT_CONN_ID,
    ) -> None:
        super().__init__()
        self.to = to
        self.text = text if text is not None or template_uuid is not None else DEFAULT_TEXT
        self.template_uuid = template_uuid
        self.template_values = template_values
        self.channel = channel
        self.channel_uuid = channel_uuid
        self.metadata = metadata
        with named_for(self):
            self.callbell_conn_id = arguments.conn_id(callbell_conn_id, "callbell_conn_id")
            self._messages(check_only=True)

    def _messages(self, *, check_only: bool = False) -> list[OutgoingMessage]:
        """One message a recipient; with ``check_only``, the parts known now are checked."""
        from airflow_provider_callbell.api.messages import (
            OutgoingMessage,
            check_parts,
            known_parts,
            rendered_parts,
        )

        parts = {name: getattr(self, name) for name in NOTIFIER_PARTS}
        if check_only:
            check_parts(**known_parts(parts))
            if not is_template(self.to):
                self._recipients()
            return []
        return [OutgoingMessage(to=to, **rendered_parts(parts)) for to in self._recipients()]

    def _recipients(self) -> list[str]:
        """The phone numbers of ``to``, each once however it is written; errors never show them."""
        from airflow_provider_callbell.arguments import phone_key
        from airflow_provider_callbell.upserts.rows import without_value

        try:
            numbers = string_list(self.to, "to", example="['+39 333 000 1111']", ordered=True, optional=False)
        except ValueError as error:
            raise ValueError(without_value(error)) from None
        unique: dict[str, str] = {}
        for number in numbers:
            unique.setdefault(phone_key(phone_number(number, "to")), number.strip())
        return list(unique.values())

    def _key(self, context: Context, message: OutgoingMessage) -> str:
        from airflow_provider_callbell.api.messages import idempotency_key

        ti = context.get("ti")
        where = (getattr(ti, "dag_id", None), getattr(ti, "task_id", None), getattr(ti, "try_number", None))
        return idempotency_key("notifier", context.get("run_id"), *where, message.to, message.text)

    def notify(self, context: Context) -> None:
        """Send the messages (in task and DAG callbacks): to every recipient, whoever fails."""
        import contextlib

        from airflow_provider_callbell.exceptions import CallbellError
        from airflow_provider_callbell.hooks.callbell import CallbellHook

        hook = CallbellHook(callbell_conn_id=self.callbell_conn_id)
        failures: list[tuple[str, CallbellError]] = []
        with contextlib.closing(hook):
            messages = self._rendered_messages(context)
            for number, message in enumerate(messages, 1):
                try:
                    hook.send_message(message, idempotency_key=self._key(context, message))
                except CallbellError as error:
                    self._failed(failures, _recipient(number, message), error)
        self._reached_everyone(len(messages), failures)

    async def async_notify(self, context: Context) -> None:
        """Send the messages from an event loop (the triggerer, for deadline alerts)."""
        from airflow_provider_callbell.exceptions import CallbellError
        from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook

        hook = CallbellAsyncHook(self.callbell_conn_id)
        failures: list[tuple[str, CallbellError]] = []
        try:
            messages = self._rendered_messages(context)
            for number, message in enumerate(messages, 1):
                try:
                    await hook.send_message(message, idempotency_key=self._key(context, message))
                except CallbellError as error:
                    self._failed(failures, _recipient(number, message), error)
        finally:
            await hook.aclose()
        self._reached_everyone(len(messages), failures)

    def _rendered_messages(self, context: Context) -> list[OutgoingMessage]:
        """The messages of the rendered arguments; an error names the notifier and its task."""
        with named_for(self, getattr(context.get("ti"), "task_id", None)):
            return self._messages()

    def _failed(
        self, failures: list[tuple[str, CallbellError]], recipient: str, error: CallbellError
    ) -> None:
        """A recipient not reached: logged now, raised with the others once all were tried."""
        self.log.warning("The Callbell notification to %s failed: %s", recipient, error)
        failures.append((recipient, error))

    @staticmethod
    def _reached_everyone(recipients: int, failures: Sequence[tuple[str, Exception]]) -> None:
        """One refused recipient does not keep the message from the others; the failures are raised last."""
        from airflow_provider_callbell.exceptions import CallbellError

        if failures:
            refused = "; ".join(f"{recipient}: {error}" for recipient, error in failures)
            raise CallbellError(
                f"The Callbell notification reached {recipients - len(failures)} of {recipients} "
                f"recipients; not {refused}"
            )


def _recipient(number: int, message: OutgoingMessage) -> str:
    """A recipient as logs name one: by place in ``to`` and last two digits, not the phone number."""
    from airflow_provider_callbell.arguments import phone_key

    return f"recipient {number} (…{phone_key(message.to)[-2:]})"


send_callbell_notification = CallbellNotifier
