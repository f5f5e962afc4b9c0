"""Outgoing messages: validated requests, and finding a sent one by its idempotency key."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from urllib.parse import quote
from uuid import uuid4

from airflow_provider_callbell.api.contact_writes import phone_lookup, single_contact
from airflow_provider_callbell.api.writes import Get, Lookup, Write
from airflow_provider_callbell.arguments import (
    channel_type,
    choice,
    free_text,
    identifier,
    known_now,
    no_controls,
    optional_identifier,
    phone_number,
    rendered,
    visible,
    web_url,
)
from airflow_provider_callbell.exceptions import (
    CallbellInvalidResponseError,
    CallbellNotFoundError,
    CallbellWriteUncertainError,
)

#: What a message is made of besides its recipient: the arguments, row keys and notifier parts.
MESSAGE_PARTS = (
    "text",
    "template_uuid",
    "template_values",
    "media_url",
    "media_type",
    "channel",
    "channel_uuid",
    "metadata",
)
#: The metadata key carrying a message's idempotency key.
IDEMPOTENCY_KEY = "idempotency_key"
MEDIA_TYPES = ("image", "document", "audio", "video")
MAX_METADATA_KEYS = 10
MAX_METADATA_KEY_LENGTH = 50
MAX_METADATA_VALUE_LENGTH = 500
#: Valid values standing in for parts known only once rendered; any other part stands in as "x".
_STAND_INS: Mapping[str, Any] = {
    "template_values": ["x"],
    "metadata": {},
    "media_url": "https://example.com/x",
    "media_type": "image",
}
#: How far before a lost send a message may be dated and still be looked at: clocks differ.
CLOCK_SKEW = timedelta(minutes=5)
#: Pages of a contact's messages read at most to find a lost send.
MAX_LOOKUP_PAGES = 20


def idempotency_key(*parts: object) -> str:
    """A key naming one message for good: the same parts give the same key (at most 50 characters)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()
    return f"airflow-{digest[:40]}"


def send_key(given: str | None) -> str:
    """The key a send goes under: ``given``, checked, or a new random one when ``None``. A
    template that rendered nothing (``""``) is refused, never swapped for a random key: that
    would send again what a retry should find."""
    if given is None:
        return idempotency_key(uuid4())
    key = identifier(given, "idempotency_key")
    if key != given or len(key) > MAX_METADATA_VALUE_LENGTH:
        raise ValueError(
            f"idempotency_key must be an identifier of at most {MAX_METADATA_VALUE_LENGTH} characters, "
            f"as given, without spaces around it; got {len(given)} characters"
        )
    return key


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send, checked: text, a template with its values, or media by URL.

    :param to: the recipient's phone number.
    :param text: the text; with a template, the text shown in Callbell (by default the values).
    :param template_uuid: an approved template, for recipients outside the 24-hour window.
    :param template_values: the template's placeholder values, in order.
    :param media_url: a public URL of an image, document, audio or video to send.
    :param media_type: ``image`` (default with ``media_url``), ``document``, ``audio`` or ``video``.
    :param channel: the channel type, ``whatsapp`` by default.
    :param channel_uuid: the channel to send from, when the account has several.
    :param metadata: text values kept with the message (at most 9 keys: one carries the
        idempotency key).
    """

    to: str
    text: str | None = None
    template_uuid: str | None = None
    template_values: Sequence[str] = ()
    media_url: str | None = None
    media_type: str | None = None
    channel: str = "whatsapp"
    channel_uuid: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "to", phone_number(self.to, "to"))
        set_(self, "channel", channel_type(self.channel, "channel"))
        set_(self, "channel_uuid", optional_identifier(self.channel_uuid, "channel_uuid"))
        set_(self, "template_uuid", optional_identifier(self.template_uuid, "template_uuid"))
        set_(self, "template_values", _values(self.template_values, self.template_uuid))
        set_(self, "metadata", _metadata(self.metadata))
        if self.text is not None:
            set_(self, "text", free_text(self.text, "text", lines=True))
        self._check_content()

    def _check_content(self) -> None:
        if self.media_url is not None:
            object.__setattr__(self, "media_url", web_url(self.media_url, "media_url"))
            if self.template_uuid is not None or self.text is not None:
                raise ValueError("media_url cannot be combined with text or template_uuid: send them apart")
            object.__setattr__(
                self,
                "media_type",
                choice("image" if self.media_type is None else self.media_type, "media_type", MEDIA_TYPES),
            )
        elif self.media_type is not None:
            raise ValueError("media_type needs media_url")
        elif self.text is None and self.template_uuid is None:
            raise ValueError("a message needs text, template_uuid or media_url")

    def body(self, key: str) -> dict[str, Any]:
        """The ``POST /messages/send`` body, carrying ``key`` in its metadata."""
        body: dict[str, Any] = {
            "to": self.to,
            "from": self.channel,
            "metadata": {**self.metadata, IDEMPOTENCY_KEY: key},
        }
        if self.media_url is not None:
            body.update(type=self.media_type, content={"url": self.media_url})
        else:
            body.update(type="text", content={"text": self.text or " ".join(self.template_values)})
        if self.template_uuid is not None:
            body.update(
                template_uuid=self.template_uuid,
                template_values=list(self.template_values),
                optin_contact=True,
            )
        if self.channel_uuid is not None:
            body["channel_uuid"] = self.channel_uuid
        return body


def rendered_parts(parts: Mapping[str, Any]) -> dict[str, Any]:
    """Message parts as templates render them: ``template_values`` and ``metadata`` arrive as the
    text of a list or a mapping unless the DAG renders native objects."""
    kinds = {"template_values": list, "metadata": dict}
    return {
        name: rendered(value, name, kinds[name]) if name in kinds else value
        for name, value in parts.items()
        if value is not None
    }


def known_parts(parts: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`rendered_parts` at DAG parse time: a part known only once rendered (a template, an
    upstream task's output) stands in as a valid value of its kind, so the others are checked now."""
    return rendered_parts(
        {name: _stand_in(value, _STAND_INS.get(name, "x")) for name, value in parts.items()}
    )


def _stand_in(value: Any, stand_in: Any) -> Any:
    """``value`` with what is known only once rendered replaced by ``stand_in``: the whole value,
    or the items of a list and the values of a mapping (as Airflow renders them), so the known
    ones are checked now."""
    if value is None or (isinstance(value, str) and known_now(value) is not None):
        return value
    if isinstance(value, list | tuple):
        return [_stand_in(item, "x") for item in value]
    if isinstance(value, Mapping):
        return {key: _stand_in(item, "x") for key, item in value.items()}
    return stand_in if known_now(value) is None else value


def check_parts(**parts: Any) -> None:
    """Check the parts of messages whose recipients (and maybe content) each row of a batch gives."""
    if not any(parts.get(name) is not None for name in ("text", "template_uuid", "media_url")):
        parts["text"] = "-"
    OutgoingMessage(to="+1 000 000 0000", **parts)


def _values(values: Any, template_uuid: str | None) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError(f"template_values must be a list of texts, got {type(values).__name__}")
    if values and template_uuid is None:
        raise ValueError("template_values need template_uuid")
    if not all(isinstance(value, str) for value in values):
        raise ValueError("template_values must be texts: render numbers and dates as text first")
    if not all(map(visible, values)):
        raise ValueError("template_values must be non-blank texts: a blank one leaves its placeholder empty")
    for value in values:  # WhatsApp refuses line breaks and tabs in a template's values
        no_controls(value, "template_values")
    return tuple(values)


def _metadata(metadata: Any) -> dict[str, str]:
    if not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be a mapping of names to texts, got {type(metadata).__name__}")
    if len(metadata) > MAX_METADATA_KEYS - 1:
        raise ValueError(
            f"metadata holds at most {MAX_METADATA_KEYS - 1} keys (one more carries the idempotency key)"
        )
    for key, value in metadata.items():
        named = isinstance(key, str) and 0 < len(key) <= MAX_METADATA_KEY_LENGTH and visible(key)
        if not named or key != key.strip() or key.lower() == IDEMPOTENCY_KEY:
            raise ValueError(
                f"metadata keys must be texts of 1 to {MAX_METADATA_KEY_LENGTH} characters that show "
                f"something, without spaces around them, other than {IDEMPOTENCY_KEY!r} in any case, "
                f"got {key!r}"
            )
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE_LENGTH:
            raise ValueError(
                f"metadata[{key!r}] must be a text of at most {MAX_METADATA_VALUE_LENGTH} characters"
            )
        no_controls(key, "metadata keys")
        no_controls(value, f"metadata[{key!r}]", lines=True)
    return dict(metadata)


def status_path(uuid: str) -> str:
    """The path of a message's status."""
    return f"messages/status/{quote(identifier(uuid, 'uuid'))}"


def sent_message(document: Any, uuid: str | None = None) -> dict[str, Any]:
    """``{"uuid", "status", ...}`` of a ``{"message": {...}}`` answer: its uuid a Callbell
    identifier (``uuid`` when the request named it), its status (if any) text in lower case
    (``FAILED`` is ``failed``)."""
    message = document.get("message") if isinstance(document, Mapping) else None
    if not isinstance(message, dict):
        raise CallbellInvalidResponseError("Callbell answered without the 'message' object it documents")
    try:
        identifier(message.get("uuid"), "uuid")
    except ValueError:
        raise CallbellInvalidResponseError(
            "Callbell answered with a message without a uuid that is a Callbell identifier"
        ) from None
    if uuid is not None and message["uuid"] != uuid:
        # another message's status, taken for this one's, could report it delivered
        raise CallbellInvalidResponseError(
            f"Callbell answered a request for message {uuid} with another message ({message['uuid']})"
        )
    status = message.get("status")
    if status is not None and not isinstance(status, str):
        raise CallbellInvalidResponseError(
            f"Callbell gave a message status that is not text: a {type(status).__name__}"
        )
    return {**message, "status": status and status.strip().lower()}


def send_message(message: OutgoingMessage, key: str, *, now: datetime | None = None) -> Write[dict[str, Any]]:
    """``POST /messages/send``; a lost answer is looked for among the recipient's messages by ``key``."""
    if not isinstance(message, OutgoingMessage):
        raise ValueError(
            f"message must be an OutgoingMessage (airflow_provider_callbell.api.messages), "
            f"got a {type(message).__name__}"
        )
    since = (now or datetime.now(UTC)) - CLOCK_SKEW
    key = free_text(key, IDEMPOTENCY_KEY)
    if len(key) > MAX_METADATA_VALUE_LENGTH:
        raise ValueError(f"{IDEMPOTENCY_KEY} must hold at most {MAX_METADATA_VALUE_LENGTH} characters")

    def find() -> Lookup[dict[str, Any]]:
        return (yield from _message_with_key(message, key, since))

    return Write("POST", "messages/send", message.body(key), sent_message, find)


def _message_with_key(message: OutgoingMessage, key: str, since: datetime) -> Lookup[dict[str, Any]]:
    try:
        contact = single_contact((yield phone_lookup(message.to, message.channel_uuid)), phone=message.to)
        for page in count(1):
            document = yield Get(f"contacts/{quote(contact['uuid'], safe='')}/messages", {"page": str(page)})
            recent = [item for item in _messages(document) if _created(item) >= since]
            for item in recent:
                if not isinstance(item.get("metadata"), Mapping):
                    raise _uncertain(key, "Callbell lists its messages without their metadata")
                if item["metadata"].get(IDEMPOTENCY_KEY) == key:
                    return sent_message({"message": {"uuid": item.get("uuid"), "status": item.get("status")}})
            if len(recent) < len(_messages(document)) or not recent:
                return None
            if page == MAX_LOOKUP_PAGES:
                raise _uncertain(key, f"more than {MAX_LOOKUP_PAGES} pages of messages were sent since")
    except CallbellNotFoundError:
        return None
    return None


def _messages(document: Any) -> list[dict[str, Any]]:
    messages = document.get("messages") if isinstance(document, Mapping) else None
    if not isinstance(messages, list):
        raise CallbellInvalidResponseError("Callbell answered without the 'messages' list it documents")
    return [item for item in messages if isinstance(item, dict)]


def _created(item: Mapping[str, Any]) -> datetime:
    """When a listed message was made; an unreadable time counts as recent, so it is looked at."""
    try:
        created = datetime.fromisoformat(str(item.get("createdAt")))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def _uncertain(key: str, why: str) -> CallbellWriteUncertainError:
    return CallbellWriteUncertainError(
        f"The answer to the message with idempotency key {key} was lost, and whether it was sent "
        f"cannot be told ({why}): it is not sent again, to avoid a duplicate. Look for that key in "
        "the message metadata of the conversation in Callbell."
    )
