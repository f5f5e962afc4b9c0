"""One attempt at a request on the wire: its deadline, and what its failure means.

Both hooks turn a transport exception into the error to raise with :func:`transport_failure`;
:class:`Deadline` and :class:`DeadlineAdapter` bound a ``requests`` attempt as a whole, as
``aiohttp``'s total timeout does for the asynchronous hook.
"""

from __future__ import annotations

import heapq
import logging
import os
import socket
import ssl
import threading
import time
import traceback
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import requests
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from airflow_provider_callbell.api.responses import without_phone_numbers
from airflow_provider_callbell.api.secrets import conceal
from airflow_provider_callbell.exceptions import (
    CallbellConfigurationError,
    CallbellError,
    CallbellTransportError,
)

if TYPE_CHECKING:
    from types import TracebackType

    from urllib3.poolmanager import PoolManager

    from airflow_provider_callbell.connection import ClientConfig

URL_ADVICE = (
    "Check the base URL (host) of the Callbell connection: an http(s) URL naming a host, "
    "such as https://api.callbell.eu/v1."
)
HEADER_ADVICE = (
    "Check the API token (password) of the Callbell connection: it may hold no space or line break."
)
TLS_ADVICE = (
    "Check the scheme of the Callbell connection's base URL and its TLS: https:// to a port "
    "speaking plain HTTP fails so, as does a server certificate that does not verify "
    "(CA bundle, TLS-inspecting proxy)."
)

#: TLS errors of a connection dropped mid-handshake, which a retry may cure.
_DROPPED_TLS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def deadline_exceeded(what: str, seconds: float) -> CallbellTransportError:
    """The error of an attempt that outlived its deadline."""
    return CallbellTransportError(
        f"{what} took longer than the {seconds:g} s deadline of one request "
        "(the `timeout` setting of the Callbell connection)"
    )


@dataclass(frozen=True)
class Environment:
    """What the environment says of reaching ``base_url``, as requests reads it: proxies
    (``HTTPS_PROXY``, ``NO_PROXY``...) and a CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``).
    Read once a hook, for both hooks alike."""

    proxies: dict[str, str]
    ca_bundle: str | None

    @classmethod
    def of(cls, base_url: str) -> Environment:
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        return cls(requests.utils.get_environ_proxies(base_url), bundle or None)

    def proxy_for(self, base_url: str) -> str | None:
        """The proxy of ``base_url``'s scheme, if any."""
        return self.proxies.get(base_url.partition(":")[0].lower()) or self.proxies.get("all")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A context trusting the CA bundle, or ``None`` for the default one."""
        if self.ca_bundle is None:
            return None
        if os.path.isdir(self.ca_bundle):
            return ssl.create_default_context(capath=self.ca_bundle)
        return ssl.create_default_context(cafile=self.ca_bundle)


def transport_failure(what: str, error: BaseException, config: ClientConfig) -> CallbellError:
    """The error to raise for ``error``, which ended one attempt at ``what``.

    A :class:`CallbellConfigurationError` when the connection cannot work as configured,
    else a (retried) :class:`CallbellTransportError`. Its text holds no piece of the token,
    and it keeps no reference to ``error``, whose request carries the token: raise it outside
    the ``except`` block, so that it has no ``__context__`` either.
    """
    if type(error) is TimeoutError:  # aiohttp's total timeout; its other timeouts are ClientErrors
        return deadline_exceeded(what, config.timeout)
    text = conceal(without_phone_numbers(f"{what} failed: {type(error).__name__}: {error}"), config.token)
    advice = _advice(error)
    if advice:
        return CallbellConfigurationError(f"{text.rstrip('.')}. {advice}")
    return CallbellTransportError(text)


def _advice(error: BaseException) -> str | None:
    """What to check in the connection, when ``error`` says the request cannot work as configured."""
    if isinstance(error, requests.RequestException):
        return _requests_advice(error)
    return _aiohttp_advice(error)


def _requests_advice(error: requests.RequestException) -> str | None:
    if isinstance(error, requests.exceptions.SSLError):
        return _tls_advice(error)
    # urllib3 raises it too for an answer's conflicting Content-Length: the server's fault
    if isinstance(error, requests.exceptions.InvalidHeader):
        return None if "Content-Length" in str(error) else HEADER_ADVICE
    if isinstance(error, ValueError):  # InvalidURL, InvalidSchema, MissingSchema
        return URL_ADVICE
    return None


def _aiohttp_advice(error: BaseException) -> str | None:
    import aiohttp

    if isinstance(error, aiohttp.ServerFingerprintMismatch):
        return TLS_ADVICE
    if isinstance(error, aiohttp.ClientSSLError):
        return _tls_advice(error)
    if isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return URL_ADVICE
    if isinstance(error, ValueError):  # how aiohttp refuses a header holding a line break
        return HEADER_ADVICE
    return None


def _tls_advice(error: BaseException) -> str | None:
    return None if isinstance(_tls_cause(error), _DROPPED_TLS) else TLS_ADVICE


def _tls_cause(error: BaseException) -> ssl.SSLError | None:
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    return cause


class _Concealing(logging.Filter):
    """urllib3 quotes what a server sent in some warnings (unparsable headers): hide the tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        for secret in list(self.secrets):
            text = conceal(text, secret)
        record.msg, record.args, record.exc_info, record.exc_text = text, (), None, None
        return True


_concealing = _Concealing()


def conceal_in_urllib3_logs(secret: str) -> None:
    """Hide ``secret`` from what urllib3 logs, for as long as the process lives."""
    _concealing.secrets.add(secret)
    for name in ("urllib3.connection", "urllib3.connectionpool", "urllib3.response"):
        logger = logging.getLogger(name)
        if _concealing not in logger.filters:
            logger.addFilter(_concealing)


_lock = threading.Lock()  # claims of connections by deadlines change under it
_current = threading.local()


class Deadline:
    """Cuts the ``requests`` attempt under way in this thread short once ``seconds`` have passed.

    urllib3 bounds each read, not the exchange: a server trickling bytes would hold a request
    for ever. A watchdog shuts the socket of the connection the attempt uses (through a
    :class:`DeadlineAdapter`), which ends any blocked read or write at once; the ``with``
    block then raises :func:`deadline_exceeded`, whatever the cut made ``requests`` do.
    """

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        self.passed = False
        self.cut = False
        self.connection: _WatchedConnection | None = None

    def __enter__(self) -> Deadline:
        _current.deadline = self
        _watchdog.watch(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        _watchdog.forget(self)
        _current.deadline = None
        with _lock:
            self.connection = None
        if self.cut and error is None:
            raise deadline_exceeded(self.what, self.seconds)

    def _expire(self) -> None:
        with _lock:
            self.passed = True
            if self.connection is not None and self.connection.deadline is self:
                self._cut(self.connection)

    def _cut(self, connection: _WatchedConnection) -> None:
        self.cut = True
        sock = connection.answering or connection.sock
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One thread expiring every :class:`Deadline` in time: not a timer thread per request."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Deadline]] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> None:
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + deadline.seconds, id(deadline), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="callbell-deadlines", daemon=True)
                self._thread.start()
            self._changed.notify()

    def forget(self, deadline: Deadline) -> None:
        with self._changed:
            self._due = [entry for entry in self._due if entry[2] is not deadline]
            heapq.heapify(self._due)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._changed.wait(self._due[0][0] - time.monotonic() if self._due else None)
                deadline = heapq.heappop(self._due)[2]
            deadline._expire()


_watchdog = _Watchdog()


def _watch(connection: _WatchedConnection, answering: socket.socket | None = None) -> None:
    """Let the deadline of this thread, if any, cut what ``connection`` is about to do."""
    deadline: Deadline | None = getattr(_current, "deadline", None)
    with _lock:
        connection.deadline = deadline
        connection.answering = answering
        if deadline is not None:
            deadline.connection = connection
            if deadline.passed:
                deadline._cut(connection)


class _WatchedConnection(HTTPConnection):
    """Mixed into a pool's connection class: every step of an exchange comes under the deadline."""

    deadline: Deadline | None = None
    # http.client hands the socket over to the response, and forgets it, on "Connection: close".
    answering: socket.socket | None = None

    def connect(self) -> None:
        _watch(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)
        super().request(*args, **kwargs)

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _watch(self, self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedPool(HTTPConnectionPool):
    """Mixed into a pool class: a connection back in the pool is out of its deadline's reach."""

    def _put_conn(self, conn: Any) -> None:
        if isinstance(conn, _WatchedConnection):
            with _lock:
                conn.deadline = None
        super()._put_conn(conn)


@cache
def _watched(pool: type[HTTPConnectionPool]) -> type[HTTPConnectionPool]:
    if issubclass(pool, _WatchedPool):
        return pool
    # Same names as urllib3's classes, whose names its error messages show.
    base = pool.ConnectionCls
    connection = type(base.__name__, (_WatchedConnection, base), {})
    return cast(
        "type[HTTPConnectionPool]",
        type(pool.__name__, (_WatchedPool, pool), {"ConnectionCls": connection}),
    )


def _watch_pools(manager: PoolManager) -> None:
    manager.pool_classes_by_scheme = {
        scheme: _watched(pool) for scheme, pool in manager.pool_classes_by_scheme.items()
    }


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` whose connections, proxied ones too, a :class:`Deadline` can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        _watch_pools(manager)
        return manager
