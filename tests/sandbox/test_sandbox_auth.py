"""Authentication, and the token staying out of responses and logs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from tests.sandbox.client import ApiClient, exchange

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox import CallbellSandbox
    from tests.sandbox.conftest import MakeSandbox


@pytest.mark.parametrize("path", ["/auth/me", "/contacts", "/contacts/nobody", "/no/such/path"])
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_requests_without_the_token_are_unauthorized(
    shared_sandbox: CallbellSandbox, path: str, token: str | None
) -> None:
    response = ApiClient(shared_sandbox, token=token).get(path)

    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("header", ["Basic c2FuZGJveA==", "Bearer", "Token sandbox-token", "sandbox-token"])
def test_only_a_bearer_token_is_accepted(shared_sandbox: CallbellSandbox, header: str) -> None:
    client = ApiClient(shared_sandbox, token=None)
    client.session.headers["Authorization"] = header

    assert client.get("/auth/me").status_code == 401


def test_bearer_scheme_is_case_insensitive(shared_sandbox: CallbellSandbox) -> None:
    client = ApiClient(shared_sandbox, token=None)
    client.session.headers["Authorization"] = f"bearer {shared_sandbox.token}"

    assert client.get("/auth/me").status_code == 200


def test_auth_me_returns_no_part_of_the_key(make_sandbox: MakeSandbox) -> None:
    token = "cb-live-0123456789"
    sandbox = make_sandbox(contacts=1, token=token)

    response = ApiClient(sandbox).get("/auth/me")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "user_email": "owner@example.com",
        "user_name": "Sandbox",
        "api_key": "****",
    }
    assert not [token[i : i + 4] for i in range(len(token) - 3) if token[i : i + 4] in response.text]


def test_no_token_in_the_logs(make_sandbox: MakeSandbox, caplog: pytest.LogCaptureFixture) -> None:
    right, wrong = "right-SECRET-4711", "wrong-SECRET-0815"
    sandbox = make_sandbox(contacts=5, token=right)
    caplog.set_level(logging.DEBUG, logger="airflow_provider_callbell.sandbox")

    ApiClient(sandbox, token=wrong).get("/auth/me")
    ApiClient(sandbox, token=right).get("/contacts", page=1)

    sandbox_lines = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_callbell.sandbox"]
    assert sandbox_lines == ["GET /v1/auth/me -> 401", "GET /v1/contacts?page=1 -> 200"]
    assert "SECRET" not in caplog.text


LOGGED_TOKEN = "right-SECRET-4711"
ENCODED_TOKEN = "".join(f"%{byte:02X}" for byte in LOGGED_TOKEN.encode())
CONTACT = f'{{"name": "{LOGGED_TOKEN}", "identifier": "+39333", "source": "whatsapp"}}'


@pytest.mark.parametrize(
    ("request_line", "rest", "logged"),
    [
        pytest.param(
            f"GET /v1/contacts?key={LOGGED_TOKEN}", "\r\n", "GET /v1/contacts?key=*** -> 200", id="query"
        ),
        pytest.param(f"GET /v1/contacts/{LOGGED_TOKEN}", "\r\n", "GET /v1/contacts/*** -> 404", id="path"),
        pytest.param(
            f"GET /v1/contacts/{ENCODED_TOKEN}", "\r\n", "GET /v1/contacts/*** -> 404", id="encoded"
        ),
        pytest.param(
            f"GET /v1/{LOGGED_TOKEN} x", "\r\n", "Bad request syntax ('GET /v1/*** x HTTP/1.1')", id="bad"
        ),
        pytest.param(
            f"GET /v1/contacts/{LOGGED_TOKEN.upper()}", "\r\n", "GET /v1/contacts/*** -> 404", id="upper"
        ),
        pytest.param(
            f"GET /v1/contacts?k={LOGGED_TOKEN[:-1]}", "\r\n", "GET /v1/contacts?k=*** -> 200", id="cut short"
        ),
        pytest.param(
            "GET /v1/auth/me", f"X-Key: {LOGGED_TOKEN}\r\n\r\n", "GET /v1/auth/me -> 200", id="header"
        ),
        pytest.param(
            "POST /v1/contacts",
            f"Content-Length: {len(CONTACT)}\r\n\r\n{CONTACT}",
            "POST /v1/contacts -> 200",
            id="body",
        ),
    ],
)
def test_the_token_stays_out_of_the_logs_wherever_it_travels(
    make_sandbox: MakeSandbox, caplog: pytest.LogCaptureFixture, request_line: str, rest: str, logged: str
) -> None:
    sandbox = make_sandbox(contacts=5, token=LOGGED_TOKEN)
    caplog.set_level(logging.DEBUG, logger="airflow_provider_callbell.sandbox")
    head = (
        f"{request_line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {LOGGED_TOKEN}\r\n"
    )

    exchange(sandbox, (head + rest).encode())

    assert any(logged in record.getMessage() for record in caplog.records), caplog.text
    assert "SECRET" not in caplog.text
