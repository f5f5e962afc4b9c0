"""Messages: sending them as Callbell does, their delivery status, a contact's history.

A :class:`MessageBook` keeps every message of the account, and the customer
service windows (see ``windows.py``) that decide whether a free-form message
may go out. Everything happens under the contact store's lock, so a message
and the move of its contact to the top of the list are one change.

A sent message's status follows from its age: ``enqueued``, then ``sent``,
``delivered`` and ``read``, one step per ``message_status_interval``; a
message fated to fail goes ``enqueued``, then ``failed``. Its fate is drawn
when it is sent, from a stream seeded from the sandbox seed; messages to an
unreachable number always fail.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.sandbox.catalog import ISO_FORMAT, random_hex_uuid, seeded_random
from airflow_provider_callbell.sandbox.payloads import PayloadError
from airflow_provider_callbell.sandbox.records import check_unicode, phone_key
from airflow_provider_callbell.sandbox.store import ContactConflictError
from airflow_provider_callbell.sandbox.templates import render
from airflow_provider_callbell.sandbox.windows import CustomerWindows

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_callbell.sandbox.records import ContactRecord
    from airflow_provider_callbell.sandbox.send_payload import SendRequest
    from airflow_provider_callbell.sandbox.store import ContactStore

MESSAGES_PER_PAGE = 20
OUTBOUND = "outbound"
INBOUND = "inbound"
WINDOW_CLOSED = (
    "Outside the 24-hour customer service window: only an approved template can be sent to this contact"
)

_WINDOWED_SOURCES = frozenset({"whatsapp"})
_PROGRESS = ("enqueued", "sent", "delivered", "read")
#: WhatsApp's error codes, as its raw status payloads carry them.
_UNREACHABLE = {"code": 131026, "title": "Message undeliverable"}
_RANDOM_FAILURE = {"code": 131000, "title": "Something went wrong"}


class WindowClosedError(Exception):
    """A free-form message to a customer whose 24-hour window is closed, or who never wrote."""

    def __init__(self) -> None:
        """Carry the text the API answers with."""
        super().__init__(WINDOW_CLOSED)


class UnknownRecipientError(LookupError):
    """No contact has the ``bsuid`` a message is sent to."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message; ``failure`` is the error an outbound message is fated to fail with."""

    uuid: str
    contact_uuid: str
    direction: str
    to: str | None
    channel_type: str
    type: str
    content: Mapping[str, Any]
    text: str | None
    template_uuid: str | None
    template_values: tuple[str, ...]
    metadata: Mapping[str, str]
    sent_at: float
    failure: Mapping[str, Any] | None = None

    @property
    def created_at(self) -> str:
        """``sent_at`` in ISO 8601, UTC, like a contact's ``createdAt``."""
        return time.strftime(ISO_FORMAT, time.gmtime(self.sent_at))


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a message's delivery is: its status, and since when (epoch seconds)."""

    status: str
    since: float


def progress(message: Message, now: float, interval: float) -> Progress:
    """The status of ``message`` at ``now``, one step per ``interval`` seconds."""
    if message.direction == INBOUND:
        return Progress("received", message.sent_at)
    last_step = 1 if message.failure else len(_PROGRESS) - 1
    steps = max(0, min(int((now - message.sent_at) / interval), last_step))
    status = "failed" if message.failure and steps else _PROGRESS[steps]
    return Progress(status, message.sent_at + steps * interval)


class MessageBook:
    """The messages of the account and its customer service windows; thread-safe."""

    def __init__(
        self,
        store: ContactStore,
        seed: int,
        *,
        capacity: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Keep the ``capacity`` latest messages of ``store``'s contacts; ``clock`` tells epoch seconds."""
        self._store = store
        self._capacity = capacity
        self._clock = clock
        self._windows = CustomerWindows(seed, clock())
        self._uuids = seeded_random("messages", seed)
        self._fates = seeded_random("message-fates", seed)
        self._unreachable: set[str] = set()
        self._messages: dict[str, Message] = {}  # send order
        self._by_contact: dict[str, list[Message]] = {}
        store.watch(self)

    def send(self, request: SendRequest, failure_rate: float) -> Message:
        """Send ``request`` to its contact and move the contact to the top.

        A template to a number no contact has creates the contact.

        Raises:
            WindowClosedError: a free-form message outside the 24-hour window.
            UnknownRecipientError: no contact has the request's ``bsuid``.
            PayloadError: the number belongs to a contact of another channel.
        """
        with self._store.lock:
            now = self._clock()
            record = self._recipient(request)
            if request.template is None and not self._may_write_freely(record, now):
                raise WindowClosedError
            message = self._add(
                record.uuid,
                now,
                direction=OUTBOUND,
                to=request.to,
                channel_type=request.channel_type,
                type=request.type,
                content=request.content,
                text=_text(request),
                template_uuid=request.template["uuid"] if request.template else None,
                template_values=request.template_values,
                metadata=request.metadata,
                failure=self._fate(record, failure_rate),
            )
            self._store.touch(record.uuid)
            return message

    def customer_wrote(self, uuid: str) -> None:
        """The customer of contact ``uuid`` wrote now: open its window, move it to the top.

        Raises:
            KeyError: no contact has ``uuid``.
        """
        with self._store.lock:
            self._customer_wrote(uuid)

    def receive(self, uuid: str, text: str) -> Message:
        """Record an inbound message ``text`` from the customer of contact ``uuid``.

        Raises:
            KeyError: no contact has ``uuid``.
            ValueError: ``text`` is not valid Unicode.
        """
        check_unicode({"text": text})
        with self._store.lock:
            record = self._customer_wrote(uuid)
            return self._add(
                uuid,
                self._clock(),
                direction=INBOUND,
                to=None,
                channel_type=record.source,
                type="text",
                content={"text": text},
                text=text,
                template_uuid=None,
                template_values=(),
                metadata={},
            )

    def close_window(self, uuid: str) -> None:
        """Make the last message of the customer of contact ``uuid`` older than 24 hours.

        Raises:
            KeyError: no contact has ``uuid``.
        """
        with self._store.lock:
            if self._store.get(uuid) is None:
                raise KeyError(uuid)
            self._windows.close(uuid, self._clock())

    def make_unreachable(self, phone_number: str) -> None:
        """Make every later message to ``phone_number`` (formatting ignored) fail.

        Raises:
            ValueError: ``phone_number`` has no digit.
        """
        key = phone_key(phone_number)
        if not key:
            raise ValueError(f"expected a phone number, got {phone_number!r}")
        with self._store.lock:
            self._unreachable.add(key)

    def get(self, uuid: str) -> Message | None:
        """The message with ``uuid``, or None."""
        with self._store.lock:
            return self._messages.get(uuid)

    def messages(self, contact_uuid: str | None = None) -> list[Message]:
        """Every message, or those of one contact, in the order they were sent."""
        with self._store.lock:
            if contact_uuid is None:
                return list(self._messages.values())
            return list(self._by_contact.get(contact_uuid, ()))

    def page(self, contact_uuid: str, number: int) -> list[Message] | None:
        """Page ``number`` of a contact's messages, newest first; None: no such contact."""
        with self._store.lock:
            if self._store.get(contact_uuid) is None:
                return None
            history = self._by_contact.get(contact_uuid, [])
        # Sorted by (createdAt, arrival): the clock may step back, never the arrival order.
        ordered = sorted(enumerate(history), key=lambda item: (item[1].created_at, item[0]), reverse=True)
        start = (number - 1) * MESSAGES_PER_PAGE
        return [message for _, message in ordered[start : start + MESSAGES_PER_PAGE]]

    def progress(self, message: Message, interval: float) -> Progress:
        """Where ``message`` is now, one step per ``interval`` seconds."""
        return progress(message, self._clock(), interval)

    def contact_added(self, uuid: str) -> None:
        """A new contact's customer has not written yet."""
        self._windows.added(uuid)

    def contact_deleted(self, uuid: str) -> None:
        """A deleted contact's messages and history go with it."""
        self._windows.forget(uuid)
        for message in self._by_contact.pop(uuid, ()):
            del self._messages[message.uuid]

    def _recipient(self, request: SendRequest) -> ContactRecord:
        if request.to is None:
            record = self._store.find_by_bsuid(request.bsuid or "")
            if record is None:
                raise UnknownRecipientError(request.bsuid)
            return record
        channel_uuid = request.channel["uuid"] if request.channel else None
        record = self._store.find_by_phone(request.to, channel_uuid)
        if record is not None:
            return record
        if request.template is None:
            raise WindowClosedError
        return self._new_contact(request)

    def _new_contact(self, request: SendRequest) -> ContactRecord:
        """The contact a template to an unknown number creates, named after the number."""
        fields: dict[str, Any] = {
            "name": request.to,
            "phoneNumber": request.to,
            "source": request.channel_type,
        }
        if request.channel is not None:
            fields["channel"] = dict(request.channel)
        try:
            return self._store.add(fields)
        except ContactConflictError as error:
            raise PayloadError(
                "Invalid field: to (the number belongs to a contact of another channel)"
            ) from error

    def _customer_wrote(self, uuid: str) -> ContactRecord:
        record = self._store.touch(uuid)
        self._windows.wrote(uuid, self._clock())
        return record

    def _fate(self, record: ContactRecord, failure_rate: float) -> Mapping[str, Any] | None:
        """The error the message will fail with, or None; one draw per message, whatever the rate."""
        fated = self._fates.random() < failure_rate
        if record.phone_key in self._unreachable:
            return _UNREACHABLE
        return _RANDOM_FAILURE if fated else None

    def _may_write_freely(self, record: ContactRecord, now: float) -> bool:
        return record.source not in _WINDOWED_SOURCES or self._windows.is_open(record.uuid, now)

    def _add(self, contact_uuid: str, now: float, **fields: Any) -> Message:
        message = Message(uuid=random_hex_uuid(self._uuids), contact_uuid=contact_uuid, sent_at=now, **fields)
        self._messages[message.uuid] = message
        self._by_contact.setdefault(contact_uuid, []).append(message)
        if self._capacity is not None and len(self._messages) > self._capacity:
            self._forget(next(iter(self._messages.values())))
        return message

    def _forget(self, message: Message) -> None:
        del self._messages[message.uuid]
        history = self._by_contact[message.contact_uuid]
        history.remove(message)
        if not history:
            del self._by_contact[message.contact_uuid]


def _text(request: SendRequest) -> str | None:
    """What the customer reads: the filled-in template, the text, or a media caption."""
    if request.template is not None:
        return render(request.template["text"], request.template_values)
    text = request.content.get("text")
    return text if isinstance(text, str) else None


def sent_json(message: Message, progress_now: Progress) -> dict[str, Any]:
    """A message as ``CallbellSandbox.messages()`` shows it."""
    return {
        "uuid": message.uuid,
        "contactUuid": message.contact_uuid,
        "direction": message.direction,
        "status": progress_now.status,
        "to": message.to,
        "from": message.channel_type,
        "type": message.type,
        "content": dict(message.content),
        "text": message.text,
        "templateUuid": message.template_uuid,
        "templateValues": list(message.template_values),
        "metadata": dict(message.metadata),
        "createdAt": message.created_at,
    }


def listed_json(message: Message, progress_now: Progress) -> dict[str, Any]:
    """A message as ``GET /contacts/{uuid}/messages`` lists it."""
    return {
        "uuid": message.uuid,
        "status": progress_now.status,
        "createdAt": message.created_at,
        "direction": message.direction,
        "channel": message.channel_type,
        "type": message.type,
        "content": dict(message.content),
        "text": message.text,
        "metadata": dict(message.metadata),
    }


def status_json(message: Message, progress_now: Progress) -> dict[str, Any]:
    """A message as ``GET /messages/status/{uuid}`` answers it.

    ``messageStatusPayload`` imitates WhatsApp's raw status: the timestamp is
    a string of epoch seconds, and a failure carries ``errors``.
    """
    payload: dict[str, Any] = {"status": progress_now.status, "timestamp": str(int(progress_now.since))}
    if progress_now.status == "failed" and message.failure is not None:
        payload["errors"] = [dict(message.failure)]
    return {
        "uuid": message.uuid,
        "status": progress_now.status,
        "createdAt": message.created_at,
        "to": message.to,
        "contact": {"uuid": message.contact_uuid},
        "metadata": dict(message.metadata),
        "messageStatusPayload": payload,
    }
