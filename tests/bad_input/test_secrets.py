"""No token, nor any piece of one, in errors, logs, reprs or test_connection, whatever a server echoes."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_callbell.api.responses import decode_response
from airflow_provider_callbell.api.secrets import conceal
from airflow_provider_callbell.exceptions import (
    CallbellAuthError,
    CallbellConfigurationError,
    CallbellError,
    CallbellPaginationLimitError,
)
from airflow_provider_callbell.hooks.callbell import CallbellHook
from tests.conftest import quick_hook

TOKEN = "cb-echoed-9d2f41a07be35c68"
PIECES = [TOKEN[i : i + 6] for i in range(len(TOKEN) - 5)]
#: The token as JSON text may write it, every character escaped.
ESCAPED = "".join(f"\\u{ord(char):04x}" for char in TOKEN)


def pieces_in(text: str) -> list[str]:
    return [piece for piece in PIECES if piece in text]


class Echo(BaseHTTPRequestHandler):
    """Answers every request with an error quoting the Authorization header, at some offset."""

    offset = 0
    status = 400
    requests = 0

    def do_GET(self) -> None:
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        Echo.requests += 1
        if "/redirect" in self.path:
            self.send_response(302)
            self.send_header("Location", f"/v1/contacts/redirect?key={token}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.endswith("/auth/me") and self.status == 200:
            self._answer(200, {"user_email": f"\x1b[31m{token}\x1b[0m\n" + "A" * 5000})
            return
        quoted = {
            "prefix": f"{'x' * self.offset} key {token}",
            "cut": f"unknown key {token[:10]}… (truncated)",
            "middle": f"key ends with {token[5:20]}",
            "percent-encoded": f"bad key {quote(token, safe='')}".replace("-", "%2D"),
            "html": f"<html><body><p>{'y ' * self.offset}Denied for {token}</p></body></html>",
        }.get(self.path.rsplit("/", 1)[-1].split("?")[0], f"key {token}")
        self._answer(self.status, {"error": quoted})

    def _answer(self, status: int, document: dict[str, str]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Echo]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connection = {
        "conn_type": "callbell",
        "host": f"http://127.0.0.1:{server.server_port}/v1",
        "password": TOKEN,
    }
    monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", json.dumps(connection))
    Echo.requests, Echo.status, Echo.offset = 0, 400, 0
    yield Echo
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("offset", [0, 150, 170, 180, 190, 195, 198])
@pytest.mark.parametrize("shape", ["prefix", "html"])
def test_an_echoed_token_never_shows_even_where_the_message_is_cut(
    echo: type[Echo], logs: Callable[[], str], offset: int, shape: str
) -> None:
    """Messages are cut to 200 characters: the token is hidden before the cut, not after."""
    echo.offset = offset

    with pytest.raises(CallbellError) as caught:
        quick_hook().request("GET", f"contacts/{shape}")

    shown = f"{caught.value}\n{caught.value!r}\n{logs()}"
    assert "Callbell answered HTTP 400" in shown
    assert pieces_in(shown) == []


@pytest.mark.parametrize("shape", ["cut", "middle", "percent-encoded"])
@pytest.mark.parametrize("status", [400, 401, 404, 429, 503])
def test_pieces_of_the_token_are_hidden_whatever_the_status(
    echo: type[Echo], logs: Callable[[], str], shape: str, status: int
) -> None:
    echo.status = status

    with pytest.raises(CallbellError) as caught:
        quick_hook(max_retries=1).request("GET", f"contacts/{shape}")

    assert caught.value.status == status
    assert pieces_in(f"{caught.value}\n{logs()}") == []


def test_a_redirect_is_not_followed_showing_no_piece_of_the_token(
    echo: type[Echo], logs: Callable[[], str]
) -> None:
    with pytest.raises(
        CallbellConfigurationError, match=r"HTTP 302 .*never redirects.*check the base URL"
    ) as caught:
        quick_hook().request("GET", "contacts/redirect")

    assert Echo.requests == 1  # not followed, not retried
    assert pieces_in(f"{caught.value}\n{logs()}") == []


def test_test_connection_shows_who_answered_on_one_short_line_without_the_token(echo: type[Echo]) -> None:
    echo.status = 200

    ok, message = CallbellHook().test_connection()

    assert ok
    assert message.startswith("Connected to Callbell at http://127.0.0.1:")
    assert message.isprintable()
    assert len(message) < 300
    assert pieces_in(message) == []


@pytest.mark.parametrize(
    "field",
    [
        {"extra": json.dumps({"timeout": TOKEN})},
        {"extra": json.dumps({"max_retries": TOKEN[3:]})},
        {"extra": json.dumps({"rate_limit_redis_conn_id": TOKEN + "!"})},
        {"extra": json.dumps({"rate_limit_redis_conn_id": TOKEN})},
        {"extra": json.dumps({TOKEN: ""})},
        {"extra": "{" + TOKEN},
        {"login": TOKEN},
        {"description": f"prod account, token {TOKEN}"},
        # the extra's JSON text may escape the token (\u002B for +): it is read decoded too
        {"extra": json.dumps({"timeout": "TOKEN"}).replace("TOKEN", ESCAPED)},
        {"extra": json.dumps({"TOKEN": 1}).replace("TOKEN", ESCAPED)},
        {"extra": json.dumps({"rate_limit_redis_conn_id": "TOKEN"}).replace("TOKEN", ESCAPED)},
    ],
    ids=[
        "timeout",
        "max_retries",
        "redis-bad",
        "redis-id",
        "name",
        "not-json",
        "login",
        "description",
        "escaped-timeout",
        "escaped-name",
        "escaped-redis-id",
    ],
)
def test_a_token_in_another_field_is_refused_never_quoted(
    monkeypatch: pytest.MonkeyPatch, logs: Callable[[], str], field: dict[str, str]
) -> None:
    connection = {"conn_type": "callbell", "host": "http://127.0.0.1:9/v1", "password": TOKEN, **field}
    monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", json.dumps(connection))
    where = next(iter(field))

    with pytest.raises(
        CallbellConfigurationError, match=f"The {where} of the Callbell connection .* holds its API"
    ):
        CallbellHook().config  # noqa: B018
    ok, message = CallbellHook().test_connection()

    assert not ok
    assert pieces_in(f"{message}\n{logs()}") == []


def test_test_connection_shows_no_piece_of_the_token(echo: type[Echo]) -> None:
    echo.status = 401

    ok, message = CallbellHook().test_connection()

    assert not ok
    assert "HTTP 401" in message
    assert pieces_in(message) == []


@pytest.mark.parametrize("secret", ["a", "Pa", "limit", "Pagination limit", "pagination limit reached"])
def test_errors_are_classified_before_the_token_is_hidden(secret: str) -> None:
    """A short token must not garble the server's words nor hide the page-number limit."""
    body = b'{"error": "Pagination limit reached: use the cursor"}'

    with pytest.raises(CallbellPaginationLimitError):
        decode_response(400, {}, body, what="GET /contacts", secret=secret)


@pytest.mark.parametrize(
    ("text", "secret", "shown"),
    [
        ("key cb-secret-7f3a9e1d2c!", "cb-secret-7f3a9e1d2c", "key ***!"),
        ("prefix cb-sec… and suffix 9e1d2c", "cb-secret-7f3a9e1d2c", "prefix ***… and suffix ***"),
        ("a 5-char cb-se stays", "cb-secret-7f3a9e1d2c", "a 5-char cb-se stays"),
        ("page limit for token ab", "ab", "page limit for token ***"),
        ("tabs and labels", "ab", "tabs and labels"),
        ("nothing", "", "nothing"),
        ("url cb%2Dsecret%2D7f3a9e1d2c", "cb-secret-7f3a9e1d2c", "url ***"),
        ("a plain 100%25 stays", "cb-secret-7f3a9e1d2c", "a plain 100%25 stays"),
        ("invalid token CB-SECRET-7F3A9E1D2C", "cb-secret-7f3a9e1d2c", "invalid token ***"),
        ("lowered cb-secret-7f3a9e", "CB-Secret-7F3A9E1D2C", "lowered ***"),
        ("token AB given", "ab", "token *** given"),
        # the token's own escapes, echoed as they are: the text is decoded, and so is the token
        ("bad tok%2Fen%2Fwith%2Fslashes99", "tok%2Fen%2Fwith%2Fslashes99", "bad ***"),
        ("k Ab&amp;cd&lt;ef12345", "Ab&amp;cd&lt;ef12345", "k ***"),
        ("k abc\\u0041def123", "abc\\u0041def123", "k ***"),
        # a start or an end shorter than 6 characters, where a mask shows what it is
        (
            '{"error": "Invalid API key provided: ****9e1d"}',
            "cb-secret-7f3a9e1d",
            '{"error": "Invalid API key provided: *******"}',
        ),
        ("key cb-s** is revoked", "cb-secret-7f3a9e1d", "key ***** is revoked"),
        ("running cb-s... then CB-S**", "cb-secret-7f3a9e1d", "running cb-s... then CB-S**"),  # prose, case
        ("key cb-se••• is revoked", "cb-secret-7f3a9e1d", "key ***••• is revoked"),
        ("ends xxxx9e1d", "cb-secret-7f3a9e1d", "ends xxxx***"),
        ("the 9e1d build and cb-s shown", "cb-secret-7f3a9e1d", "the 9e1d build and cb-s shown"),
    ],
)
def test_conceal(text: str, secret: str, shown: str) -> None:
    assert conceal(text, secret) == shown


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps({"error": False, "hint": TOKEN}).encode(), "application/json"),  # \u-escaped below
        (
            json.dumps([{"k": TOKEN}]).replace(TOKEN[0], f"\\u{ord(TOKEN[0]):04x}").encode(),
            "application/json",
        ),
        (("<p>Denied " + "".join(f"&#{ord(c)};" for c in TOKEN) + "</p>").encode(), "text/html"),
        (("x" * 300_000 + TOKEN).encode(), "text/plain"),
    ],
    ids=["json-without-message", "json-escapes", "html-entities", "huge-body"],
)
def test_escaped_echoes_are_decoded_then_hidden(body: bytes, content_type: str) -> None:
    with pytest.raises(CallbellError) as caught:
        decode_response(400, {"Content-Type": content_type}, body, what="GET /contacts", secret=TOKEN)

    assert pieces_in(str(caught.value)) == []
    assert len(str(caught.value)) < 300


PERCENT = "".join(f"%{byte:02X}" for byte in TOKEN.encode())
ENTITIES = "".join(f"&#{ord(char)};" for char in TOKEN)
UNICODE_ESCAPED = "".join(f"\\u{ord(char):04x}" for char in TOKEN)


@pytest.mark.parametrize(
    ("body", "encoded"),
    [
        (json.dumps({"error": f"bad {ENTITIES}"}), ENTITIES),
        (json.dumps({"error": f"denied {quote(PERCENT)}"}), quote(PERCENT)),
        (json.dumps({"error": f"denied {quote(quote(PERCENT))}"}), quote(quote(PERCENT))),
        (f"got Basic {base64.b64encode(f'user:{TOKEN}'.encode()).decode()}", f"user:{TOKEN}"),
        (f"got {base64.urlsafe_b64encode(f'ab{TOKEN}'.encode()).decode()}", f"ab{TOKEN}"),
        (f"bad token {TOKEN.encode().hex()}", f"%{TOKEN.encode().hex()}"),
        (f"bad token {TOKEN.encode().hex().upper()}", f"%{TOKEN.encode().hex().upper()}"),
        (f"bad token {UNICODE_ESCAPED}", UNICODE_ESCAPED),
        (json.dumps({"error": f"bad token {UNICODE_ESCAPED}"}), UNICODE_ESCAPED),
        (f"denied {quote(quote(quote(quote(PERCENT))))}", quote(quote(quote(quote(PERCENT))))),
    ],
    ids=[
        *("entities-in-json", "percent-twice", "percent-thrice", "base64", "base64-urlsafe-shifted"),
        *("hex", "hex-upper", "json-escapes-in-text", "json-escapes-in-json", "percent-five-times"),
    ],
)
def test_a_token_encoded_more_ways_is_hidden(body: str, encoded: str) -> None:
    if "&#" not in encoded and "%" not in encoded and "\\" not in encoded:  # base64: the token's part
        encoded = base64.b64encode(encoded.encode()).decode()[12:-8]
    with pytest.raises(CallbellError) as caught:
        decode_response(400, {}, body.encode(), what="GET /contacts", secret=TOKEN)

    assert "***" in str(caught.value)
    assert encoded[8:40] not in str(caught.value).replace("-", "+").replace("_", "/")


def test_urllib3_warnings_quoting_what_the_server_sent_hide_the_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A header line without a colon makes urllib3 warn, quoting the unparsed data."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(
                f"HTTP/1.1 200 OK\r\nseen {TOKEN[3:17]}\r\nContent-Length: 2\r\n\r\n{{}}".encode()
            )

    threading.Thread(target=serve, daemon=True).start()
    connection = {"conn_type": "callbell", "host": f"http://127.0.0.1:{listener.getsockname()[1]}/v1"}
    monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", json.dumps({**connection, "password": TOKEN}))
    caplog.set_level(logging.WARNING, "urllib3")

    with contextlib.suppress(CallbellError):
        quick_hook(max_retries=0).request("GET", "auth/me")
    listener.close()

    assert "Failed to parse headers" in caplog.text
    assert pieces_in(caplog.text) == []


def test_a_token_given_as_a_path_value_is_hidden_in_the_request_named(
    sandbox_factory: Any, logs: Callable[[], str]
) -> None:
    """A token pasted where a uuid goes: the 404 and the retries name the request without it."""
    sandbox_factory(contacts=3, token=TOKEN, error_rate=0.5, seed=3)

    with pytest.raises(CallbellError) as caught:
        quick_hook().get_contact(TOKEN)

    shown = "\n".join([str(caught.value), logs()])
    assert "GET /contacts/***" in str(caught.value)
    assert pieces_in(shown) == []


def test_a_failing_phone_lookup_names_no_phone_number(sandbox_factory: Any, logs: Callable[[], str]) -> None:
    sandbox = sandbox_factory(contacts=3, error_rate=1.0)
    number = sandbox.contacts()[0]["phoneNumber"]

    with pytest.raises(CallbellError, match=r"GET /contacts/phone/…") as caught:
        quick_hook(max_retries=1).get_contact_by_phone(number)

    warnings = [line for line in logs().splitlines() if "retrying in" in line]  # urllib3 debugs URLs
    shown = "\n".join([str(caught.value), *warnings])
    assert warnings
    for form in (number, quote(number, safe=""), quote(number)):
        assert form not in shown


def test_a_transport_error_of_a_phone_lookup_names_no_phone_number(
    monkeypatch: pytest.MonkeyPatch, logs: Callable[[], str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    connection = {"conn_type": "callbell", "host": f"http://127.0.0.1:{port}/v1", "password": TOKEN}
    monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", json.dumps(connection))
    number = "+39 333 000 1111"

    with pytest.raises(CallbellError, match="GET /contacts/phone/… failed") as caught:
        quick_hook(max_retries=1).get_contact_by_phone(number)

    shown = f"{caught.value}\n{logs()}"
    assert "retrying in" in shown
    for form in (number, quote(number, safe=""), quote(number), "333%20000"):
        assert form not in shown


def test_the_sandbox_settings_never_show_the_token() -> None:
    from airflow_provider_callbell.sandbox import SandboxSettings

    assert TOKEN not in repr(SandboxSettings(token=TOKEN))
    with pytest.raises(ValueError, match="wrapping quotes"):
        SandboxSettings(token=f'"{TOKEN}"')


ESCAPED_TOKEN = 'ab1\\cd2"ef3\\gh4\\ij5'


@pytest.mark.parametrize(
    "document",
    [
        {"error": f"invalid token {ESCAPED_TOKEN}"},
        {"errors": [f"invalid token {ESCAPED_TOKEN}"]},
        {"errors": [{"code": 7, "detail": f"bad {ESCAPED_TOKEN}"}]},
        {"status": "denied", "token": ESCAPED_TOKEN},
        {"message": {"token": [ESCAPED_TOKEN[:12]]}},
    ],
    ids=["error", "errors", "nested", "no-message-key", "prefix"],
)
def test_a_token_json_or_python_would_escape_is_hidden_in_every_answer_shape(document: Any) -> None:
    """Backslashes and quotes come back doubled once JSON or repr() quote the token: the token is
    known in every form, and answers are shown unquoted."""
    body = json.dumps(document).encode()
    with pytest.raises(CallbellAuthError) as caught:
        decode_response(
            401, {"Content-Type": "application/json"}, body, what="GET /auth/me", secret=ESCAPED_TOKEN
        )
    message = str(caught.value)
    for form in (ESCAPED_TOKEN, json.dumps(ESCAPED_TOKEN)[1:-1], repr(ESCAPED_TOKEN)[1:-1]):
        assert not [form[i : i + 6] for i in range(len(form) - 5) if form[i : i + 6] in message]
    assert "***" in message
