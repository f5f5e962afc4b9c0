"""Abusive clients: the sandbox stays up, bounded and secret (raw sockets against a real server)."""

from __future__ import annotations

import json
import logging
import select
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING

import pytest

from airflow_provider_callbell.sandbox import server
from airflow_provider_callbell.sandbox.endpoints import Endpoints
from tests.sandbox.client import ApiClient, exchange, read_until_closed

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_callbell.sandbox import CallbellSandbox
    from airflow_provider_callbell.sandbox.endpoints import Call
    from airflow_provider_callbell.sandbox.responses import Response
    from tests.sandbox.conftest import MakeSandbox

TOKEN = "abuse-SECRET-9876"
AUTHORIZED = f"Authorization: Bearer {TOKEN}\r\n"
WRONG = "Authorization: Bearer wrong\r\n"
LIMIT = 1 << 20
TOO_LARGE = f"Request body larger than {LIMIT} bytes"


def _connect(sandbox: CallbellSandbox) -> socket.socket:
    return socket.create_connection(("127.0.0.1", sandbox.port), timeout=5)


def _head(request_line: str, headers: str = AUTHORIZED) -> bytes:
    return f"{request_line} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()


def _parse(received: bytes) -> tuple[int, dict[str, str], object]:
    """The status, headers and JSON body of the one response in ``received``."""
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert len(body) == int(headers["Content-Length"])
    return int(status_line.split()[1]), headers, json.loads(body)


def _wait_for(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("authorization", "length", "status", "error"),
    [
        pytest.param(AUTHORIZED, 10**12, 413, TOO_LARGE, id="a terabyte"),
        pytest.param(AUTHORIZED, LIMIT + 1, 413, TOO_LARGE, id="a byte too many"),
        pytest.param(AUTHORIZED, "9" * 5000, 413, TOO_LARGE, id="5000 digits"),
        pytest.param(WRONG, 10_000_000, 401, "Unauthorized", id="stranger, 10 MB"),
        pytest.param(WRONG, 100_000, 401, "Unauthorized", id="stranger, 100 kB"),
        pytest.param("", 100_000, 401, "Unauthorized", id="anonymous, 100 kB"),
    ],
)
def test_bodies_too_large_or_unauthorized_are_never_read(
    make_sandbox: MakeSandbox, authorization: str, length: int | str, status: int, error: str
) -> None:
    sandbox = make_sandbox(contacts=3, token=TOKEN)
    request = _head("POST /v1/contacts", f"{authorization}Content-Length: {length}\r\n")
    started = time.monotonic()

    # Only the body's first bytes are sent: an answer means the rest was never awaited.
    received = exchange(sandbox, request + b'{"na')

    assert time.monotonic() - started < 1
    answer_status, headers, body = _parse(received)
    assert (answer_status, body, headers["Connection"]) == (status, {"error": error}, "close")
    assert ApiClient(sandbox).get("/auth/me").status_code == 200


@pytest.mark.parametrize(
    ("sent_at_once", "trickled"),
    [
        pytest.param(b"", _head("GET /v1/auth/me"), id="request line"),
        pytest.param(b"GET /v1/auth/me HTTP/1.1\r\n", f"Host: x\r\n{AUTHORIZED}\r\n".encode(), id="headers"),
        pytest.param(_head("POST /v1/contacts", f"{AUTHORIZED}Content-Length: 40\r\n"), b"x" * 40, id="body"),
    ],
)
def test_a_trickling_client_is_cut_off_at_the_deadline(
    make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch, sent_at_once: bytes, trickled: bytes
) -> None:
    monkeypatch.setattr(server._SandboxServer, "request_deadline", 1.2)
    sandbox = make_sandbox(contacts=3, token=TOKEN)
    other = ApiClient(sandbox)
    served_meanwhile = []

    with _connect(sandbox) as slow:
        started = time.monotonic()
        slow.sendall(sent_at_once)
        for byte in trickled:
            slow.sendall(bytes([byte]))
            served_meanwhile.append(other.get("/auth/me").status_code)
            if select.select([slow], [], [], 0.5)[0]:
                break
        cut_off_after = time.monotonic() - started
        received = read_until_closed(slow)

    assert 1.2 <= cut_off_after < 2
    assert _parse(received)[::2] == (408, {"error": "Request timeout"})
    assert served_meanwhile == [200] * len(served_meanwhile)
    assert len(served_meanwhile) >= 2


def test_the_deadline_does_not_shorten_the_idle_wait_after_a_request(
    make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server._SandboxServer, "request_deadline", 0.5)
    sandbox = make_sandbox(contacts=3, token=TOKEN)

    with _connect(sandbox) as connection:
        statuses = []
        for _ in range(2):
            connection.sendall(_head("GET /v1/auth/me"))
            statuses.append(_parse(connection.recv(65536))[0])
            time.sleep(1)

    assert statuses == [200, 200]


def test_a_stalled_request_gets_408_after_the_idle_timeout(
    make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server._Handler, "timeout", 0.3)
    sandbox = make_sandbox(contacts=3, token=TOKEN)
    started = time.monotonic()

    received = exchange(sandbox, b"GET /v1/auth/me HTTP/1.1\r\nHost: x\r\n")

    assert time.monotonic() - started < 1
    assert _parse(received)[::2] == (408, {"error": "Request timeout"})


def test_an_idle_flood_is_bounded_and_makes_room(
    make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server._SandboxServer, "max_connections", 8)
    sandbox = make_sandbox(contacts=3, token=TOKEN)
    before = threading.active_count()
    peak = before
    closed: list[socket.socket] = []

    flood = [_connect(sandbox) for _ in range(40)]
    deadline = time.monotonic() + 3  # idle connections would time out after 5 s
    while len(closed) < 32 and time.monotonic() < deadline:
        peak = max(peak, threading.active_count())
        closed = select.select(flood, [], [], 0.02)[0]
    served = ApiClient(sandbox).get("/auth/me").status_code
    evicted = [read_until_closed(connection) for connection in closed]
    for connection in flood:
        connection.close()

    assert served == 200
    assert evicted == [b""] * 32  # closed while idle, the oldest first, without a 503
    assert set(flood[:32]) == set(closed)
    assert peak - before <= 8 + 1  # a thread may outlive its slot by a moment


def test_a_busy_flood_gets_503_until_its_deadline(
    make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server._SandboxServer, "max_connections", 4)
    monkeypatch.setattr(server._SandboxServer, "request_deadline", 1.5)
    sandbox = make_sandbox(contacts=3, token=TOKEN)
    before = threading.active_count()
    busy = [_connect(sandbox) for _ in range(4)]
    for connection in busy:
        connection.sendall(b"GET /v1/auth/me HTTP/1.1\r\n")
    _wait_for(lambda: threading.active_count() == before + 4)
    time.sleep(0.2)  # each thread has read its request's first line

    started = time.monotonic()
    refused = exchange(sandbox, _head("GET /v1/auth/me"))
    refused_after = time.monotonic() - started
    timed_out = [_parse(read_until_closed(connection))[0] for connection in busy]
    served = ApiClient(sandbox).get("/auth/me").status_code
    for connection in busy:
        connection.close()

    status, headers, body = _parse(refused)
    assert (status, body) == (503, {"error": "Too many connections"})
    assert (headers["Retry-After"], headers["Connection"]) == ("1", "close")
    assert refused_after < 0.5
    assert timed_out == [408] * 4
    assert served == 200


def _failing(error: Exception) -> Callable[[Endpoints, Call], Response]:
    def endpoint(self: Endpoints, call: Call) -> Response:
        raise error

    return endpoint


@pytest.mark.parametrize(
    ("endpoint", "request_line", "error"),
    [
        pytest.param("auth_me", "GET /v1/auth/me", RuntimeError(f"boom {TOKEN}"), id="RuntimeError"),
        pytest.param("list_contacts", f"GET /v1/contacts?key={TOKEN}", KeyError(TOKEN), id="KeyError"),
        pytest.param("create_contact", "POST /v1/contacts", OSError(f"disk full near {TOKEN}"), id="OSError"),
    ],
)
def test_an_exception_answers_500_and_is_logged(
    make_sandbox: MakeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    *,
    endpoint: str,
    request_line: str,
    error: Exception,
) -> None:
    monkeypatch.setattr(Endpoints, endpoint, _failing(error))
    sandbox = make_sandbox(contacts=3, token=TOKEN)
    caplog.set_level(logging.DEBUG, logger="airflow_provider_callbell.sandbox")

    received = exchange(sandbox, _head(request_line, f"{AUTHORIZED}Content-Length: 2\r\n") + b"{}")

    status, headers, body = _parse(received)
    assert (status, body) == (500, {"error": f"internal sandbox error: {type(error).__name__}"})
    assert headers["Connection"] == "close"
    [logged] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert logged.name == "airflow_provider_callbell.sandbox"
    assert "Traceback (most recent call last)" in logged.getMessage()
    assert f"{type(error).__name__}: " in logged.getMessage()
    assert "SECRET" not in caplog.text
    assert ApiClient(sandbox).get("/contacts/nobody").status_code == 404


def test_a_client_gone_before_its_answer_leaves_no_traceback(
    make_sandbox: MakeSandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    """A client that gives up (a timeout, a kill) resets the connection; the answer written then
    fails, which is the client's doing: nothing on stderr, and the sandbox serves on."""
    sandbox = make_sandbox(contacts=3, token=TOKEN, latency=0.2)
    for _ in range(3):
        with _connect(sandbox) as client:
            client.sendall(_head("GET /v1/contacts"))
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset on close
    time.sleep(0.5)

    assert ApiClient(sandbox).get("/contacts").status_code == 200
    assert "Traceback" not in capfd.readouterr().err
