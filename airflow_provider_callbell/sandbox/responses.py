"""The request and response values passed between the HTTP layer and the app."""

from __future__ import annotations

import email.utils
import enum
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.sandbox.records import encode_json

if TYPE_CHECKING:
    from collections.abc import Mapping

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


class Delivery(enum.Enum):
    """How the HTTP layer puts a response on the wire."""

    COMPLETE = "complete"
    #: Close the connection without answering.
    DROP = "drop"
    #: Announce the full body, send half of it, close the connection.
    SHORT_WRITE = "short-write"


@dataclass(frozen=True, slots=True)
class Request:
    """What the app needs from an HTTP request."""

    method: str
    target: str
    authorization: str | None = None
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Response:
    """A response, built by the app and written by the HTTP layer."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    delivery: Delivery = Delivery.COMPLETE


def json_response(status: int, payload: Mapping[str, Any]) -> Response:
    """A JSON response."""
    return Response(status, encode_json(payload))


def error_response(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """A JSON error response: ``{"error": message}``."""
    return Response(status, encode_json({"error": message}), headers=headers)


def too_many_requests(retry_after_format: str, delay: float) -> Response:
    """A 429 response whose ``Retry-After`` follows ``retry_after_format``."""
    return error_response(429, "Too many requests", _retry_after(retry_after_format, delay))


def _retry_after(retry_after_format: str, delay: float) -> tuple[tuple[str, str], ...]:
    seconds = max(1, math.ceil(delay))
    if retry_after_format == "seconds":
        return (("Retry-After", str(seconds)),)
    if retry_after_format == "http-date":
        # An HTTP date has whole seconds: round up so it is never in the past.
        now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        when = now + timedelta(seconds=seconds)
        return (("Retry-After", email.utils.format_datetime(when, usegmt=True)),)
    return ()
