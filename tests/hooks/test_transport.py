"""One attempt has a deadline as a whole, a connection that cannot work fails at once, no
transport error keeps the token: both hooks, against real (hostile) servers."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import socket
import ssl
import struct
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_callbell import connection
from airflow_provider_callbell.api import responses
from airflow_provider_callbell.api.transport import HEADER_ADVICE, TLS_ADVICE, URL_ADVICE
from airflow_provider_callbell.exceptions import (
    CallbellConfigurationError,
    CallbellError,
    CallbellInvalidResponseError,
    CallbellTransientError,
    CallbellTransportError,
)
from airflow_provider_callbell.hooks.callbell import CallbellHook
from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook

TOKEN = "cb-7Qz9Wk4mXv2Lp8Rt"
BROKEN_TOKEN = "cb-Jh3Vq8\r\nNs5Yd2Tg6Ku"
HOOKS = ["sync", "async"]
STEP = 0.2  # seconds between two trickled bytes: far below any per-read timeout
OK_BODY = b'{"ok": true}'
TRICKLED_BODY = b'{"padding": "' + b"x" * 60 + b'"}'
PLAIN_400 = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

Answer = Callable[[socket.socket, str], bool]  # answers the request for a path; True keeps the connection


def head(length: int | None, extra: bytes = b"") -> bytes:
    framing = b"" if length is None else b"Content-Length: %d\r\n" % length
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + framing + extra + b"\r\n"


def trickle(client: socket.socket, data: bytes) -> None:
    for byte in data:
        client.sendall(bytes([byte]))
        time.sleep(STEP)


def ok(client: socket.socket, path: str) -> bool:
    client.sendall(head(len(OK_BODY)) + OK_BODY)
    return True


def slow_head(client: socket.socket, path: str) -> bool:
    trickle(client, head(len(OK_BODY)) + OK_BODY)
    return True


def slow_body(client: socket.socket, path: str) -> bool:
    client.sendall(head(len(TRICKLED_BODY)))
    trickle(client, TRICKLED_BODY)
    return True


def slow_body_then_close(client: socket.socket, path: str) -> bool:
    """http.client hands the socket over to the response and forgets it."""
    client.sendall(head(len(TRICKLED_BODY), b"Connection: close\r\n"))
    trickle(client, TRICKLED_BODY)
    return False


def slow_unframed_body(client: socket.socket, path: str) -> bool:
    """No length: the body ends when the connection does, so a cut one looks complete."""
    client.sendall(head(None, b"Connection: close\r\n"))
    trickle(client, TRICKLED_BODY)
    return False


def reset(client: socket.socket, path: str) -> bool:
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


def by_path(client: socket.socket, path: str) -> bool:
    return (slow_body if path.endswith("slow") else ok)(client, path)


class Server:
    """A real HTTP/1.1 server on 127.0.0.1 (TLS with ``tls``), a thread per connection.

    A plain one sends ``to_tls_hello`` to a TLS hello then closes: a 400, as web servers do.
    """

    def __init__(
        self, answer: Answer, tls: ssl.SSLContext | None = None, to_tls_hello: bytes = PLAIN_400
    ) -> None:
        self.answer = answer
        self.tls = tls
        self.to_tls_hello = to_tls_hello
        self.accepts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}/v1"

    def stop(self) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepts += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            if self.tls:
                client = self.tls.wrap_socket(client, server_side=True)
            elif client.recv(1, socket.MSG_PEEK) == b"\x16":
                client.recv(65536)
                client.sendall(self.to_tls_hello)
                return
            with client.makefile("rb") as reader:
                while request := reader.readline():
                    while reader.readline() not in (b"\r\n", b""):
                        pass
                    if not self.answer(client, request.split()[1].decode()):
                        return
        except OSError:
            return
        finally:
            client.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(answer: Answer, tls: ssl.SSLContext | None = None, **options: Any) -> Server:
        servers.append(Server(answer, tls, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate and its key for 127.0.0.1, in one PEM file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("tls") / "127.0.0.1.pem"
    path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


@pytest.fixture
def tls(certificate: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)
    return context


def use(monkeypatch: pytest.MonkeyPatch, url: str, token: str = TOKEN, **extra: Any) -> None:
    """Point ``callbell_default`` at ``url``: one attempt with a 1 s deadline unless told."""
    extra = {"timeout": 1, "max_retries": 0, "retry_backoff": 0.001, **extra}
    value = {"conn_type": "callbell", "host": url, "password": token, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", json.dumps(value))


def send(kind: str, path: str, sent: list[float]) -> Any:
    """A request by a new hook of ``kind``; ``sent`` gets the time it left, the connection read."""
    if kind == "sync":
        hook = CallbellHook()
        assert hook.config
        sent.append(time.monotonic())
        return hook.request("GET", path)

    async def run() -> Any:
        hook = CallbellAsyncHook()
        try:
            await hook.config()
            sent.append(time.monotonic())
            return await hook.request("GET", path)
        finally:
            await hook.aclose()

    return asyncio.run(run())


def failure(kind: str, path: str = "contacts", token: str = TOKEN) -> tuple[CallbellError, float]:
    """The error ``send`` raised, checked to hold nothing of the token, and how long the request ran."""
    sent: list[float] = []
    with pytest.raises(CallbellError) as caught:
        send(kind, path, sent)
    elapsed = time.monotonic() - sent[0] if sent else 0.0
    assert_clean(caught.value, token)
    return caught.value, elapsed


def assert_clean(error: BaseException, token: str) -> None:
    """No link to the library's exception (its request holds the token), no piece of the token."""
    assert error.__context__ is None
    assert error.__cause__ is None
    text = "".join([str(error), repr(error), *traceback.format_exception(error)])
    for form in (token, repr(token)[1:-1]):
        assert not [form[i : i + 6] for i in range(len(form) - 5) if form[i : i + 6] in text]


def retries(logs: Callable[[], str]) -> int:
    return logs().count("retrying in")


@pytest.mark.parametrize(
    "answer",
    [slow_head, slow_body, slow_body_then_close, slow_unframed_body],
    ids=["head", "body", "body-then-close", "unframed-body"],
)
@pytest.mark.parametrize("kind", HOOKS)
def test_deadline_cuts_a_trickled_answer(
    kind: str, answer: Answer, serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, serve(answer).url())

    error, elapsed = failure(kind)

    assert type(error) is CallbellTransportError
    assert "GET /contacts took longer than the 1 s deadline" in str(error)
    assert "`timeout` setting" in str(error)
    assert 1 <= elapsed < 5


def test_deadline_cuts_a_trickled_answer_over_tls(
    serve: Callable[..., Server], tls: ssl.SSLContext, certificate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    use(monkeypatch, serve(slow_body, tls).url("https"))

    error, elapsed = failure("sync")

    assert "took longer than the 1 s deadline" in str(error)
    assert 1 <= elapsed < 5


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_deadline_cuts_a_request_on_a_reused_connection(
    scheme: str,
    serve: Callable[..., Server],
    tls: ssl.SSLContext,
    certificate: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    server = serve(by_path, tls if scheme == "https" else None)
    use(monkeypatch, server.url(scheme))
    hook = CallbellHook()

    assert hook.request("GET", "fast") == {"ok": True}
    started = time.monotonic()
    with pytest.raises(CallbellTransportError, match="took longer than the 1 s deadline") as caught:
        hook.request("GET", "slow")

    assert time.monotonic() - started < 5
    assert_clean(caught.value, TOKEN)
    assert server.accepts == 1, "the slow request went over the kept-alive connection"
    assert hook.request("GET", "fast") == {"ok": True}


def test_deadlines_of_parallel_requests_cut_only_their_own(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, serve(by_path).url())
    hook = CallbellHook()
    hook._keep_alive_for(16)

    def fast_for_two_seconds() -> int:
        started, answered = time.monotonic(), 0
        while time.monotonic() - started < 2:
            assert hook.request("GET", "fast") == {"ok": True}
            answered += 1
        return answered

    def slow() -> str:
        with pytest.raises(CallbellTransportError) as caught:
            hook.request("GET", "slow")
        return str(caught.value)

    with ThreadPoolExecutor(16) as pool:
        slow_ones = [pool.submit(slow) for _ in range(4)]
        fast_ones = [pool.submit(fast_for_two_seconds) for _ in range(12)]

    assert all(future.result() > 0 for future in fast_ones)
    assert all("took longer than the 1 s deadline" in future.result() for future in slow_ones)


@pytest.mark.parametrize("kind", HOOKS)
def test_tls_to_a_plain_http_port_fails_at_once(
    kind: str, serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch, logs: Callable[[], str]
) -> None:
    server = serve(ok)
    use(monkeypatch, server.url("https"), max_retries=3)

    error, _ = failure(kind)

    assert isinstance(error, CallbellConfigurationError)
    assert "SSL" in str(error)
    assert TLS_ADVICE in str(error)
    assert server.accepts == 1
    assert retries(logs) == 0


@pytest.mark.parametrize("kind", HOOKS)
def test_a_certificate_that_does_not_verify_fails_at_once(
    kind: str, serve: Callable[..., Server], tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    server = serve(ok, tls)
    use(monkeypatch, server.url("https"), max_retries=3)

    error, _ = failure(kind)

    assert isinstance(error, CallbellConfigurationError)
    assert "certificate verify failed" in str(error)
    assert TLS_ADVICE in str(error)
    assert server.accepts == 1


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/v1", "http://"])
@pytest.mark.parametrize("kind", HOOKS)
def test_an_unusable_base_url_fails_at_once(
    kind: str, url: str, monkeypatch: pytest.MonkeyPatch, logs: Callable[[], str]
) -> None:
    # The connection's own check stops such a URL; the transport must classify it all the same.
    monkeypatch.setattr(connection, "base_url_of", lambda conn, conn_id: conn.host)
    use(monkeypatch, url, max_retries=3)

    error, elapsed = failure(kind)

    assert isinstance(error, CallbellConfigurationError)
    assert URL_ADVICE in str(error)
    assert retries(logs) == 0
    assert elapsed < 5


@pytest.mark.parametrize("kind", HOOKS)
def test_a_reset_connection_is_retried(
    kind: str, serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch, logs: Callable[[], str]
) -> None:
    server = serve(reset)
    use(monkeypatch, server.url(), max_retries=2)

    error, _ = failure(kind)

    assert type(error) is CallbellTransportError
    assert "GET /contacts failed" in str(error)
    assert retries(logs) == 2
    assert server.accepts >= 3, "aiohttp itself tries a GET twice when the connection drops"


@pytest.mark.parametrize("kind", HOOKS)
def test_a_connection_dropped_during_the_tls_handshake_is_retried(
    kind: str, serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch, logs: Callable[[], str]
) -> None:
    server = serve(ok, to_tls_hello=b"")
    use(monkeypatch, server.url("https"), max_retries=2)

    error, _ = failure(kind)

    assert type(error) is CallbellTransportError
    assert retries(logs) == 2
    assert server.accepts == 3


@pytest.mark.parametrize("kind", HOOKS)
def test_a_refused_connection_is_retried(
    kind: str, monkeypatch: pytest.MonkeyPatch, logs: Callable[[], str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    use(monkeypatch, f"http://127.0.0.1:{port}/v1", max_retries=2)

    error, _ = failure(kind)

    assert type(error) is CallbellTransportError
    assert retries(logs) == 2


@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
@pytest.mark.parametrize("kind", HOOKS)
def test_a_token_with_a_line_break_never_shows(
    kind: str,
    checked: bool,
    serve: Callable[..., Server],
    monkeypatch: pytest.MonkeyPatch,
    logs: Callable[[], str],
) -> None:
    if not checked:  # as if the connection's token check let it through: the transport must hide it
        monkeypatch.setattr(connection, "token_of", lambda conn, conn_id: conn.password)
    use(monkeypatch, serve(ok).url(), token=BROKEN_TOKEN, max_retries=3)

    error, _ = failure(kind, token=BROKEN_TOKEN)

    assert retries(logs) == 0
    assert checked or HEADER_ADVICE in str(error)


def answering(body: bytes, extra: bytes = b"") -> Answer:
    def answer(client: socket.socket, path: str) -> bool:
        client.sendall(head(len(body), extra) + body)
        return True

    return answer


BOMB = gzip.compress(b" " * (8 << 20))  # 8 KiB on the wire, 8 MiB unpacked


@pytest.mark.parametrize(
    ("body", "extra"),
    [(b'{"contacts": []}' + b" " * (2 << 20), b""), (BOMB, b"Content-Encoding: gzip\r\n")],
    ids=["large", "gzip-bomb"],
)
@pytest.mark.parametrize("kind", HOOKS)
def test_an_answer_too_large_is_refused_unread(
    kind: str, body: bytes, extra: bytes, serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(responses, "MAX_RESPONSE_BYTES", 1 << 20)
    use(monkeypatch, serve(answering(body, extra)).url())

    error, _ = failure(kind)

    assert type(error) is CallbellInvalidResponseError
    assert "larger than 1 MiB (decoded)" in str(error)


@pytest.mark.parametrize("kind", HOOKS)
def test_an_answer_just_under_the_limit_is_read(
    kind: str, serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(responses, "MAX_RESPONSE_BYTES", 1 << 20)
    body = gzip.compress(b'{"contacts": [{"uuid": "c1"}]}'.ljust(1 << 20))  # the limit exactly
    use(monkeypatch, serve(answering(body, b"Content-Encoding: gzip\r\n")).url())

    assert send(kind, "contacts", []) == {"contacts": [{"uuid": "c1"}]}


@pytest.mark.parametrize("body", [b"[" * 200_000 + b"]" * 200_000, b'{"a":' * 5000 + b"1" + b"}" * 5000])
@pytest.mark.parametrize("kind", HOOKS)
def test_an_answer_nested_too_deeply_is_an_invalid_answer(
    kind: str, body: bytes, serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, serve(answering(body)).url())

    error, _ = failure(kind)

    assert type(error) is CallbellInvalidResponseError
    assert "nested too deeply" in str(error)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_both_hooks_go_through_the_proxy_the_environment_names(
    kind: str, serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def proxy(client: socket.socket, target: str) -> bool:
        asked.append(target)
        return ok(client, target)

    server = serve(proxy)
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url().removesuffix("/v1"))
    use(monkeypatch, "http://api.callbell-proxytest.test/v1")

    assert send(kind, "contacts", []) == {"ok": True}
    assert asked == ["http://api.callbell-proxytest.test/v1/contacts"]


def raw(answer: bytes) -> Answer:
    def send(client: socket.socket, path: str) -> bool:
        client.sendall(answer)
        return False

    return send


@pytest.mark.parametrize("kind", HOOKS)
@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 103 Early Hints\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\nConnection: close\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: two\r\nConnection: close\r\n\r\n{}",
    ],
    ids=["a final 1xx", "a negative length", "a length in words"],
)
def test_an_answer_that_is_no_answer_is_a_transient_fault_in_both_hooks(
    kind: str, answer: bytes, serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's fault, retried in both hooks alike (the sync hook took a final 103 for a
    client error and read on past a length that is none)."""
    use(monkeypatch, serve(raw(answer)).url())

    error, _ = failure(kind)

    assert isinstance(error, CallbellTransientError), type(error)
    assert "API token" not in str(error)


@pytest.mark.parametrize("kind", HOOKS)
def test_an_answer_with_conflicting_lengths_is_the_servers_fault_in_both_hooks(
    kind: str, serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the token's: no advice to check it, and retried as any broken answer is."""
    use(monkeypatch, serve(answering(b"{}", b"Content-Length: 3\r\n")).url())

    error, _ = failure(kind)

    assert type(error) is CallbellTransportError
    assert "API token" not in str(error)
