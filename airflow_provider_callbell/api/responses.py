"""Turning Callbell's HTTP answers into JSON documents or typed errors.

Transport-independent, so the synchronous hook and the asynchronous triggers classify
answers the same way.
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import json
import re
import time
from typing import TYPE_CHECKING, Any

import msgspec

from airflow_provider_callbell.api.secrets import conceal
from airflow_provider_callbell.arguments import RepeatedNameError, json_without_repeats
from airflow_provider_callbell.exceptions import (
    CallbellAuthError,
    CallbellClientError,
    CallbellConfigurationError,
    CallbellError,
    CallbellInvalidResponseError,
    CallbellMessageWindowError,
    CallbellNotFoundError,
    CallbellPaginationLimitError,
    CallbellRateLimitError,
    CallbellServerError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The largest answer read, decoded: a page of contacts is a small part of it. More is a broken
#: or hostile server (or a small gzip body unpacking to gigabytes), refused before memory fills.
MAX_RESPONSE_BYTES = 32 << 20
#: Bytes read at a time from an answer.
CHUNK_BYTES = 1 << 16
_MAX_MESSAGE_CHARS = 200
_MAX_BODY_CHARS = 65_536
_MESSAGE_KEYS = ("error", "message", "errors", "detail")
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


_PHONE_PATH = re.compile(r"contacts/phone/[^\s?#'\"/)]+")
#: What a server may quote of a phone number: 7 or more digits, spaced and bracketed as people
#: write them, standing alone (not in an id, a time or a path).
_PHONE_RUN = re.compile(r"(?<![\w.:/-])(\+|\(\+?)?[0-9][0-9 ().-]{5,}[0-9](?![\w:/-]|\.[0-9])")


def without_phone_numbers(text: str) -> str:
    """``text`` with the number of any phone lookup URL it quotes left out (a library's error)."""
    return _PHONE_PATH.sub("contacts/phone/…", text)


def _phone_hidden(found: re.Match[str]) -> str:
    digits = re.sub("[^0-9]", "", found[0])
    return f"…{digits[-2:]}" if len(digits) >= 7 else found[0]


def request_name(method: str, path: str) -> str:
    """A request as errors and logs name it: a phone number in its path (personal data) left out."""
    return without_phone_numbers(f"{method} /{path}")


class CappedBody:
    """An answer's body as its decoded chunks arrive, refused past :data:`MAX_RESPONSE_BYTES`."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        """Keep ``chunk``; raise :class:`CallbellInvalidResponseError` once the answer is too large."""
        self._size += len(chunk)
        if self._size > MAX_RESPONSE_BYTES:
            raise CallbellInvalidResponseError(
                f"Callbell's answer to {self.what} is larger than {MAX_RESPONSE_BYTES >> 20} MiB "
                "(decoded): it was not read further"
            )
        self._chunks.append(chunk)

    def read(self) -> bytes:
        """The whole body."""
        return b"".join(self._chunks)


_SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header given in seconds (digits, a fraction
    tolerated) or as an HTTP date; anything else (``-1``, ``nan``) is no advice: ``None``."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def server_message(body: bytes, content_type: str | None, secret: str | None = None) -> str:
    """A short, single-line account of an error body: JSON ``error``/``message``, else its text.

    Escapes are decoded (JSON ``\\u``, HTML entities) and any piece of ``secret`` the server
    echoed is blanked before the text is cut short. Only the body's start is read: a huge error
    page costs no more than a small one.
    """
    text = body[:_MAX_BODY_CHARS].decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = None
    if document is not None:
        found = [document[key] for key in _MESSAGE_KEYS if isinstance(document, dict) and document.get(key)]
        with contextlib.suppress(RecursionError):  # nested too deeply to unquote: shown as sent
            text = _plain(found[0] if found else document)
    elif "html" in (content_type or "") or text.lstrip().startswith("<"):
        text = html.unescape(_TAG.sub(" ", text))
    return one_line(text, secret) or "no message"


def _plain(value: Any) -> str:
    """A JSON value as text to read, its strings unquoted and unescaped: ``["a", "b"]`` reads
    ``a; b``, and a token in it stands as it is, so it is recognised and blanked."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(map(_plain, value))
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_plain(item)}" for key, item in value.items())
    return json.dumps(value)


def one_line(text: str, secret: str | None = None) -> str:
    """Server text fit to show: printable, on one line, at most 200 characters, no piece of
    ``secret`` and no phone number (shown as its last two digits, ``…11``: personal data)."""
    text = _SPACE.sub(" ", "".join(char if char.isprintable() else " " for char in text))
    # Concealed over enough text that no piece of the secret straddles the cut, and before phone
    # numbers are cut: the runs of digits of an encoded token are none.
    text = conceal(text.strip()[: _MAX_MESSAGE_CHARS + 3 * len(secret or "")], secret)
    text = _PHONE_RUN.sub(_phone_hidden, text)
    return text[: _MAX_MESSAGE_CHARS - 1] + "…" if len(text) > _MAX_MESSAGE_CHARS else text


_DIGITS = re.compile(r"[0-9]+")
_WINDOW = re.compile(r"\b24\b.*\b(hours?|window)\b|\bwindow\b.*\b24\b", re.IGNORECASE)
_WINDOW_ADVICE = (
    "WhatsApp delivers a free-form message only within 24 hours of the customer's last message: "
    "send an approved template instead (template_uuid, with its template_values)."
)
_AUTH_ADVICE = "Check the API token (the password) of the Callbell connection."
#: The error of an answer and what it asks the user to check, by the exact status, else by its
#: class (3 for 3xx, 5 for 5xx); any other is a client error.
_ERRORS: dict[int, tuple[type[CallbellError], str | None]] = {
    # a final 1xx: the server, or a proxy, ended the exchange without an answer (aiohttp's own
    # error for it is a transport error, retried too)
    1: (CallbellServerError, "An informational status is no answer."),
    401: (CallbellAuthError, _AUTH_ADVICE),
    403: (CallbellAuthError, _AUTH_ADVICE),
    3: (
        CallbellConfigurationError,
        "The API never redirects, and the redirect is not followed: check the base URL (host) of "
        "the Callbell connection.",
    ),
    404: (CallbellNotFoundError, None),
    5: (CallbellServerError, None),
}


def _error_for(
    status: int, body: bytes, headers: Mapping[str, str], what: str, secret: str | None
) -> CallbellError:
    content_type = headers.get("Content-Type")
    detail = f"Callbell answered HTTP {status} to {what}: {server_message(body, content_type, secret)}"
    if status == 429:
        return CallbellRateLimitError(detail, retry_after=parse_retry_after(headers.get("Retry-After")))
    message = server_message(body, content_type)
    if status == 400 and "pagination limit" in message.lower():
        return CallbellPaginationLimitError(detail, status=status)
    if status in (400, 403, 422) and _WINDOW.search(message):
        return CallbellMessageWindowError(f"{detail}. {_WINDOW_ADVICE}", status=status)
    error, advice = _ERRORS.get(status if status in _ERRORS else status // 100, (CallbellClientError, None))
    return error(f"{detail}. {advice}" if advice else detail, status=status)


def _one_length(header: str) -> bool:
    """Whether a Content-Length header names one length (given twice alike is fine: RFC 9110)."""
    lengths = {part.strip() for part in header.split(",")}
    return len(lengths) == 1 and all(_DIGITS.fullmatch(length) for length in lengths)


def decode_response(
    status: int, headers: Mapping[str, str], body: bytes, *, what: str, secret: str | None = None
) -> Any:
    """Return the parsed JSON of a 2xx answer, or raise the matching :class:`CallbellError`.

    :param what: the request, as it should read in error messages (never with credentials).
    :param secret: text to blank out of server messages, in case the server echoes it.
    """
    what = conceal(what, secret)
    if not 200 <= status < 300:
        raise _error_for(status, body, headers, what, secret)
    length = headers.get("Content-Length")
    if length is not None and not _one_length(length):
        # requests reads on past such a header, aiohttp refuses it: both fail alike so
        raise CallbellInvalidResponseError(
            f"Callbell answered HTTP {status} to {what} with a malformed Content-Length", status=status
        )
    try:
        document = msgspec.json.decode(body)
        json_without_repeats(body)
        return document
    except msgspec.DecodeError as error:  # msgspec names offsets and types, never values
        reason = str(error)
    except RepeatedNameError as error:
        reason = f"an object {one_line(str(error), secret)}"
    except RecursionError:
        reason = "nested too deeply to read"
    # Raised out of the handler: the library's error is no context of ours.
    raise CallbellInvalidResponseError(
        f"Callbell answered HTTP {status} to {what} with a body that cannot be read as JSON "
        f"({reason}; {len(body)} bytes)",
        status=status,
    )
