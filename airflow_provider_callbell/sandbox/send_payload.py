"""Validation of the JSON body of ``POST /messages/send``.

Optional fields sent as ``null`` count as absent. Every error names the field
it is about, in the words of ``payloads.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.sandbox.catalog import SOURCES
from airflow_provider_callbell.sandbox.payloads import PayloadError, known_field, text_field
from airflow_provider_callbell.sandbox.records import phone_key
from airflow_provider_callbell.sandbox.templates import APPROVED, placeholder_count

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox.catalog import Catalog

MESSAGE_TYPES = ("text", "image", "document", "audio", "video")
MAX_METADATA_KEYS = 10
MAX_METADATA_KEY_LENGTH = 50
MAX_METADATA_VALUE_LENGTH = 500
#: The content a message keeps (other keys are dropped) and its longest values: WhatsApp's
#: bound on a text, the sandbox's own on a URL; and on a template value.
_CONTENT_LENGTHS = {"text": 4096, "url": 2048}
MAX_TEMPLATE_VALUE_LENGTH = 1000

_CHANNEL_TYPES = tuple(sorted(source for source, _ in SOURCES))
#: Accepted, checked for their type, and otherwise ignored.
_IGNORED_TEXT_FIELDS = ("assigned_user", "team_uuid", "fields", "bot_status")


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A valid send request.

    The recipient is ``to`` (a phone number) or, when it is None, ``bsuid``.
    ``channel_type`` is the body's ``from``; ``channel`` the channel named by
    ``channel_uuid``, if any. ``template_values`` are empty without a template.
    """

    to: str | None
    bsuid: str | None
    channel_type: str
    channel: Mapping[str, Any] | None
    type: str
    content: Mapping[str, Any]
    template: Mapping[str, Any] | None
    template_values: tuple[str, ...]
    metadata: Mapping[str, str]


def send_request(payload: Mapping[str, Any], catalog: Catalog) -> SendRequest:
    """Check a ``POST /messages/send`` body.

    Raises:
        PayloadError: the first rule the body breaks.
    """
    body = {key: value for key, value in payload.items() if value is not None}
    to, bsuid = _recipient(body)
    message_type = _choice(body, "type", MESSAGE_TYPES, default="text")
    template = _template(body, catalog)
    content = _content(body, message_type, templated=template is not None)
    for key in _IGNORED_TEXT_FIELDS:
        if key in body:
            text_field(body, key)
    return SendRequest(
        to=to,
        bsuid=bsuid,
        channel_type=_choice(body, "from", _CHANNEL_TYPES),
        channel=known_field(catalog.channel, body, "channel_uuid") if "channel_uuid" in body else None,
        type=message_type,
        content=content,
        template=template,
        template_values=_template_values(body, template, content),
        metadata=_metadata(body),
    )


def _recipient(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``to`` when given (it takes precedence, as in Callbell), else ``bsuid``."""
    if "to" in body:
        to = text_field(body, "to")
        if not phone_key(to):
            raise PayloadError("Invalid field: to (expected a phone number)")
        return to, None
    if not body.get("bsuid"):
        raise PayloadError("Missing required field: to (or bsuid)")
    return None, text_field(body, "bsuid")


def _choice(body: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str | None = None) -> str:
    if key not in body:
        if default is None:
            raise PayloadError(f"Missing required field: {key}")
        return default
    value = body[key]
    if value not in choices:
        raise PayloadError(f"Invalid field: {key} (expected one of {', '.join(choices)})")
    return str(value)


def _template(body: Mapping[str, Any], catalog: Catalog) -> Mapping[str, Any] | None:
    """The approved template to send, if the body names one, with the contact's opt-in."""
    if "optin_contact" in body and not isinstance(body["optin_contact"], bool):
        raise PayloadError("Invalid field: optin_contact (expected a boolean)")
    if "template_uuid" not in body:
        return None
    if body.get("optin_contact") is not True:
        raise PayloadError("Missing required field: optin_contact (must be true to send a template)")
    template = catalog.template(text_field(body, "template_uuid"))
    if template is None:
        raise PayloadError("Invalid field: template_uuid (unknown template)")
    if template["status"] != APPROVED:
        status = template["status"]
        raise PayloadError(f"Invalid field: template_uuid (the template is {status}, not approved)")
    return template


def _content(body: Mapping[str, Any], message_type: str, *, templated: bool) -> dict[str, Any]:
    """The content: ``text`` for a text message (optional with a template), else a ``url``."""
    content = body.get("content", {})
    if not isinstance(content, dict):
        raise PayloadError("Invalid field: content (expected an object)")
    kept = {name: content[name] for name in _CONTENT_LENGTHS if name in content}
    for name, value in kept.items():
        if not isinstance(value, str):
            raise PayloadError(f"Invalid field: content.{name} (expected a string)")
        if len(value) > _CONTENT_LENGTHS[name]:
            raise PayloadError(f"Invalid field: content.{name} (longer than {_CONTENT_LENGTHS[name]})")
    key = "text" if message_type == "text" else "url"
    if not kept.get(key) and not (templated and key == "text"):
        raise PayloadError(f"Missing required field: content.{key}")
    if key == "url" and not kept["url"].startswith(("https://", "http://")):
        raise PayloadError("Invalid field: content.url (expected an http or https URL)")
    return kept


def _template_values(
    body: Mapping[str, Any], template: Mapping[str, Any] | None, content: Mapping[str, Any]
) -> tuple[str, ...]:
    """One value per placeholder of the template.

    Without ``template_values``, a one-placeholder template takes
    ``content.text``, as Callbell documents for single-variable templates.
    """
    values = body.get("template_values")
    if values is not None and not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
        raise PayloadError("Invalid field: template_values (expected a list of strings)")
    if values is not None and any(len(value) > MAX_TEMPLATE_VALUE_LENGTH for value in values):
        raise PayloadError(
            f"Invalid field: template_values (each at most {MAX_TEMPLATE_VALUE_LENGTH} characters)"
        )
    if template is None:
        return ()
    expected = placeholder_count(template["text"])
    if values is None:
        values = [content["text"]] if expected == 1 and content.get("text") else []
    if len(values) != expected:
        raise PayloadError(
            f"Invalid field: template_values (the template has {expected} placeholder(s), "
            f"got {len(values)} value(s))"
        )
    return tuple(values)


def _metadata(body: Mapping[str, Any]) -> dict[str, str]:
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        raise PayloadError("Invalid field: metadata (expected an object)")
    if len(metadata) > MAX_METADATA_KEYS:
        raise PayloadError(f"Invalid field: metadata (at most {MAX_METADATA_KEYS} keys, got {len(metadata)})")
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY_LENGTH:
            raise PayloadError(
                f"Invalid field: metadata (keys must be at most {MAX_METADATA_KEY_LENGTH} characters)"
            )
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE_LENGTH:
            raise PayloadError(
                f"Invalid field: metadata (values must be strings of at most "
                f"{MAX_METADATA_VALUE_LENGTH} characters; {key!r} is not)"
            )
    return dict(metadata)
