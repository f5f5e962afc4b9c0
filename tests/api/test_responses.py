"""How Callbell's answers are classified, whatever shape their bodies take."""

from __future__ import annotations

import email.utils
import json

import pytest

from airflow_provider_callbell.api.responses import decode_response, parse_retry_after, server_message
from airflow_provider_callbell.exceptions import (
    CallbellAuthError,
    CallbellClientError,
    CallbellError,
    CallbellInvalidResponseError,
    CallbellNotFoundError,
    CallbellPaginationLimitError,
    CallbellRateLimitError,
    CallbellServerError,
    CallbellTransientError,
)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        (" 12 ", 12.0),
        ("-4", None),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("-inf", None),
        ("1_0", None),
        ("0x10", None),
        ("1e3", None),
    ],
)
def test_retry_after_in_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_as_an_http_date() -> None:
    now = 1_800_000_000.0
    header = email.utils.formatdate(now + 7, usegmt=True)

    assert parse_retry_after(header, now=now) == pytest.approx(7.0)
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0.0


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'{"error": "Contact not found"}', "application/json", "Contact not found"),
        (b'{"message": "Bad\\n  things"}', "application/json", "Bad things"),
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", "502 Bad Gateway"),
        (b"", None, "no message"),
        (b"plain words", "text/plain", "plain words"),
        (b"\xff\xfe broken", None, "\ufffd\ufffd broken"),
    ],
)
def test_server_message(body: bytes, content_type: str | None, message: str) -> None:
    assert server_message(body, content_type) == message


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("Invalid recipient +39 333 000 1111 for channel", "Invalid recipient …11 for channel"),
        ("number (0039) 333-000-2222.", "number …22."),
        ("numbers 3330001111, +44 20 7946 0958", "numbers …11, …58"),
        ("created 2020-11-13T21:08:53Z, 300 requests, id 0a1b2c3d4e5f6789", None),
        ("version 1.2.3.4 at 12:30:45 on /v1/contacts/1234567", None),
    ],
)
def test_phone_numbers_a_server_quotes_show_their_last_digits_only(said: str, shown: str | None) -> None:
    assert server_message(json.dumps({"error": said}).encode(), "application/json") == (shown or said)


def test_long_messages_are_cut() -> None:
    assert len(server_message(b"x" * 5000, "text/plain")) == 200


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, b'{"error": "Unauthorized"}', CallbellAuthError),
        (403, b"", CallbellAuthError),
        (404, b"", CallbellNotFoundError),
        (400, b'{"error": "Pagination limit exceeded"}', CallbellPaginationLimitError),
        (400, b'{"error": "Invalid pagination cursor"}', CallbellClientError),
        (422, b"", CallbellClientError),
        (429, b"", CallbellRateLimitError),
        (500, b"", CallbellServerError),
        (503, b"<html>down</html>", CallbellServerError),
    ],
)
def test_status_to_error(status: int, body: bytes, error: type[CallbellError]) -> None:
    with pytest.raises(error) as caught:
        decode_response(status, {}, body, what="GET /contacts")
    assert type(caught.value) is error
    assert caught.value.status == status
    assert isinstance(caught.value, CallbellTransientError) == (status == 429 or status >= 500)


def test_rate_limit_error_carries_retry_after() -> None:
    with pytest.raises(CallbellRateLimitError) as caught:
        decode_response(429, {"Retry-After": "2"}, b"", what="GET /contacts")
    assert caught.value.retry_after == 2.0


def test_success_body_must_be_json() -> None:
    assert decode_response(200, {}, b'{"contacts": []}', what="GET /contacts") == {"contacts": []}
    with pytest.raises(CallbellInvalidResponseError, match="cannot be read as JSON"):
        decode_response(200, {}, b'{"contacts": [', what="GET /contacts")


def test_an_answer_naming_a_key_twice_is_invalid() -> None:
    """msgspec keeps the last of two values: which one Callbell meant is not said."""
    body = b'{"contacts": [{"uuid": "a1", "name": "Ada", "uuid": "b2"}], "meta": {}}'

    with pytest.raises(CallbellInvalidResponseError, match="an object names 'uuid' more than once"):
        decode_response(200, {}, body, what="GET /contacts")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"contacts": [{"uuid": "a", "score": ' + b"9" * 5000 + b"}]}", "Integer value out of range"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply to read"),
        (b'{"contacts": [', "Input data was truncated"),
    ],
    ids=["huge-number", "deep", "truncated"],
)
def test_an_unreadable_body_says_why(body: bytes, reason: str) -> None:
    with pytest.raises(CallbellInvalidResponseError, match=f"cannot be read as JSON \\({reason}"):
        decode_response(200, {}, body, what="GET /contacts")
