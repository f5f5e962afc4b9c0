"""A batch of messages: each row's message, built from the row over the operator's defaults.

A row names its recipient as ``to``, or ``phoneNumber`` as the contact export writes it (so an
export of a segment is a batch as it is, its other contact keys ignored), and may override
``text``, ``template_uuid``, ``template_values``, ``media_url``, ``media_type``, ``channel``,
``channel_uuid`` and ``metadata``. A row's media replaces the defaults' text and template, and
its text or template replaces the defaults' media. An exported contact's ``channel`` is an
object with a ``uuid``, not a channel type: it is ignored, like the export's other keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_callbell.api.messages import MESSAGE_PARTS, OutgoingMessage, rendered_parts
from airflow_provider_callbell.arguments import phone_key
from airflow_provider_callbell.upserts.rows import ROW_KEYS, number_of, without_value

MESSAGE_KEYS = MESSAGE_PARTS
RECIPIENT_KEYS = ("to", "phoneNumber")
TEXT_KEYS = ("text", "template_uuid", "template_values")
MEDIA_KEYS = ("media_url", "media_type")
ALLOWED_KEYS = frozenset((*MESSAGE_KEYS, *RECIPIENT_KEYS)) | ROW_KEYS


def message_of(row: Any, defaults: Mapping[str, Any]) -> OutgoingMessage:
    """The message of one row; a ``ValueError`` naming the key (never a personal value) if it has none."""
    if not isinstance(row, Mapping):
        raise ValueError(f"must be an object with a recipient ('to'), got {type(row).__name__}")
    unknown = sorted((key for key in row if key not in ALLOWED_KEYS and row[key] is not None), key=str)
    if unknown:
        raise ValueError(
            f"has keys a message row does not have: {', '.join(map(repr, unknown))}; it may hold "
            f"{', '.join((*RECIPIENT_KEYS, *MESSAGE_KEYS))} (and the keys of an exported contact)"
        )
    to, other = (number_of(row, key) for key in RECIPIENT_KEYS)
    if to is None and other is None:
        raise ValueError("has no recipient: give its phone number as 'to' (or 'phoneNumber')")
    if to is not None and other is not None and phone_key(str(to)) != phone_key(str(other)):
        raise ValueError("has a to and a phoneNumber that differ: give one recipient")
    given = {key: row[key] for key in MESSAGE_KEYS if row.get(key) is not None}
    if isinstance(given.get("channel"), Mapping) and "uuid" in given["channel"]:
        del given["channel"]
    kept = {key: value for key, value in defaults.items() if not _replaced(key, given)}
    try:
        return OutgoingMessage(to=other if to is None else to, **{**kept, **rendered_parts(given)})
    except ValueError as error:
        raise ValueError(without_value(error)) from None


def _replaced(default: str, given: Mapping[str, Any]) -> bool:
    """Whether a row's content replaces a default part: media replaces text and templates, text
    or a template replaces media, and a row's template the default template's values (they fill
    another template's placeholders)."""
    if "media_url" in given:
        return default in TEXT_KEYS
    if "template_uuid" in given and default == "template_values":
        return True
    return default in MEDIA_KEYS and any(key in given for key in TEXT_KEYS)
