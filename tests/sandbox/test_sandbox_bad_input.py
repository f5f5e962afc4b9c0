"""Bad input the sandbox must answer 400, not 500 with a traceback: over real HTTP."""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.sandbox.client import ApiClient

#: More digits than Python's int() reads from text (4300): int() raised ValueError, a 500.
HUGE_PAGE = "9" * 5000
#: JSON nested deeper than Python recurses: json.loads raised RecursionError, a 500.
DEEP_BODIES = [b"[" * 200_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000, b"[" * 50_000 + b"]" * 50_000]


@pytest.fixture
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="airflow_provider_callbell.sandbox")
    return caplog


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


def _uuid(client: ApiClient) -> str:
    return str(client.get("/contacts").json()["contacts"][0]["uuid"])


def test_a_page_of_thousands_of_digits_is_an_invalid_page(
    client: ApiClient, no_errors_logged: pytest.LogCaptureFixture
) -> None:
    for path in ("/contacts", f"/contacts/{_uuid(client)}/messages"):
        response = client.get(path, page=HUGE_PAGE)

        assert (response.status_code, response.json()) == (400, {"error": "Invalid page"}), path
    assert _errors(no_errors_logged) == []


def test_leading_zeros_do_not_count_as_digits(client: ApiClient) -> None:
    first = client.get("/contacts", page="1").json()
    response = client.get("/contacts", page="0" * 5000 + "1")

    assert (response.status_code, response.json()) == (200, first)


@pytest.mark.parametrize("body", DEEP_BODIES, ids=["unclosed-arrays", "nested-objects", "closed-arrays"])
def test_a_deeply_nested_json_body_is_malformed(
    client: ApiClient, no_errors_logged: pytest.LogCaptureFixture, body: bytes
) -> None:
    headers = {"Content-Type": "application/json"}
    for method, path in (
        ("POST", "/contacts"),
        ("PATCH", f"/contacts/{_uuid(client)}"),
        ("POST", "/messages/send"),
    ):
        response = client.send(method, path, data=body, headers=headers)

        assert (response.status_code, response.json()) == (
            400,
            {"error": "Malformed JSON body: nested too deeply"},
        ), path
    assert _errors(no_errors_logged) == []


def test_a_deeply_nested_cursor_is_an_invalid_cursor(
    client: ApiClient, no_errors_logged: pytest.LogCaptureFixture
) -> None:
    cursor = base64.urlsafe_b64encode(b"[" * 40_000).decode().rstrip("=")

    response = client.get("/contacts", after=cursor)

    assert (response.status_code, response.json()) == (400, {"error": "Invalid pagination cursor"})
    assert _errors(no_errors_logged) == []
