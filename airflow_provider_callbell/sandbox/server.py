"""The HTTP layer of the sandbox and :class:`CallbellSandbox`, its Python API."""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import io
import json
import logging
import socket
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_callbell.api.secrets import conceal
from airflow_provider_callbell.sandbox.app import SandboxApp
from airflow_provider_callbell.sandbox.events import EventSource
from airflow_provider_callbell.sandbox.messages import MessageBook, sent_json
from airflow_provider_callbell.sandbox.pump import EventPump
from airflow_provider_callbell.sandbox.responses import (
    Delivery,
    Request,
    Response,
    error_response,
)
from airflow_provider_callbell.sandbox.settings import SandboxSettings
from airflow_provider_callbell.sandbox.store import ContactStore
from airflow_provider_callbell.sandbox.truth import WalkExpectation

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import TracebackType

    from _typeshed import WriteableBuffer

    from airflow_provider_callbell.sandbox.events import AccountState, SandboxEvent
    from airflow_provider_callbell.sandbox.messages import Message
    from airflow_provider_callbell.sandbox.traffic import SandboxStats

logger = logging.getLogger("airflow_provider_callbell.sandbox")

_POLL_INTERVAL = 0.01  # how long stop() may wait for the accept loop
_FIXED_SETTINGS = frozenset({"contacts", "seed", "contact_capacity", "message_capacity"})
_SERVER_VERSION = "callbell-sandbox"
# A longer Content-Length is too large anyway; int() would be slow on it, or fail.
_MAX_LENGTH_DIGITS = 18
_EVICTION_WAIT = 1.0  # seconds to wait for the thread of a closed idle connection to end


def _head(response: Response, *, close: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}",
        f"Server: {_SERVER_VERSION}",
        f"Date: {email.utils.formatdate(usegmt=True)}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        *(f"{name}: {value}" for name, value in response.headers),
    ]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _RequestReader(io.RawIOBase):
    """The reading side of a connection; while armed, reads fail once the deadline passes."""

    def __init__(self, connection: socket.socket, idle_timeout: float) -> None:
        self._connection = connection
        self._idle_timeout = idle_timeout
        self._deadline: float | None = None
        self.timed_out = False

    def readable(self) -> bool:
        return True

    def arm(self, seconds: float) -> None:
        """Give the request now arriving ``seconds`` to arrive in full."""
        self._deadline = time.monotonic() + seconds
        self.timed_out = False

    def disarm(self) -> None:
        """Let reads wait as long as the idle timeout again: the request is in."""
        self._deadline = None

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._deadline is None:
            return self._connection.recv_into(buffer)
        try:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the request took too long to arrive")
            self._connection.settimeout(min(remaining, self._idle_timeout))
            return self._connection.recv_into(buffer)
        except TimeoutError:
            self.timed_out = True
            raise
        finally:
            self._connection.settimeout(self._idle_timeout)


class _Handler(BaseHTTPRequestHandler):
    """Speaks HTTP/1.1 with keep-alive; every response leaves in one write."""

    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections close after this many seconds, as in real servers: a client
    # that opens a connection per request and never closes them must not pin a thread each.
    timeout: ClassVar[float] = 5
    server_version = _SERVER_VERSION
    server: _SandboxServer

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self._reader = _RequestReader(self.connection, self.timeout)
        self._stream = self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        if not self._request_arrives():
            self.close_connection = True
            return
        self._reader.arm(self.server.request_deadline)
        super().handle_one_request()
        self._reader.disarm()
        if self._reader.timed_out:
            self._time_out()

    def _request_arrives(self) -> bool:
        """Wait, idle, for the first byte of a request; False when the connection ends first."""
        with self.server.idle(self.connection), contextlib.suppress(OSError):
            return bool(self._stream.peek(1))
        return False

    def _time_out(self) -> None:
        """Answer 408, if the client still listens; the connection is done."""
        self.close_connection = True
        response = error_response(408, "Request timeout")
        self._log(logging.DEBUG, "request not received in time -> 408")
        with contextlib.suppress(OSError):
            self.wfile.write(_head(response, close=True) + response.body)

    def do_GET(self) -> None:
        try:
            self._serve()
        except (TimeoutError, ConnectionError):
            raise  # the client is slow or gone: nothing to answer, or a 408
        except Exception as error:
            self._fail(error)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        request = Request(
            method=self.command, target=self.path, authorization=self.headers.get("Authorization")
        )
        refusal = self._refusal(request)
        if refusal is not None:
            # The body stays unread, so where the next request starts is unknown.
            self.close_connection = True
            self._send(refusal)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(self.server.app.handle(dataclasses.replace(request, body=body)))

    def _refusal(self, request: Request) -> Response | None:
        """The answer given without reading the body; strangers' bodies are never read."""
        if not self.server.app.authorized(request.authorization):
            return self.server.app.handle(request)
        return self._unreadable_body()

    def _unreadable_body(self) -> Response | None:
        """The error to answer when the request body cannot be delimited or is too large."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return error_response(411, "Content-Length required")
        lengths = self.headers.get_all("Content-Length") or ["0"]
        length = lengths[0]
        if len(set(lengths)) > 1 or not (length.isascii() and length.isdigit()):
            return error_response(400, "Invalid Content-Length")  # two lengths: which delimits it?
        limit = self.server.max_body
        if len(length) > _MAX_LENGTH_DIGITS or int(length) > limit:
            return error_response(413, f"Request body larger than {limit} bytes")
        return None

    def _fail(self, error: Exception) -> None:
        """Answer 500 and log the traceback: a bug must not look like a dropped connection."""
        trace = "".join(traceback.format_exception(error))
        self._log(logging.ERROR, "%s %s failed:\n%s", self.command, self.path, trace)
        # Where the request ends is unknown when its body was not read.
        self.close_connection = True
        self._send(error_response(500, f"internal sandbox error: {type(error).__name__}"))

    def _send(self, response: Response) -> None:
        if response.delivery is Delivery.DROP:
            self._log(logging.DEBUG, "%s %s -> connection dropped", self.command, self.path)
            self._close()
            return
        self._log(logging.DEBUG, "%s %s -> %s", self.command, self.path, response.status)
        head, body = _head(response, close=self.close_connection), response.body
        if response.delivery is Delivery.SHORT_WRITE:
            self.wfile.write(head + body[: len(body) // 2])
            self._close()
            return
        self.wfile.write(head + body)

    def _close(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    def _log(self, level: int, message: str, *args: object) -> None:
        if logger.isEnabledFor(level):
            logger.log(level, "%s", conceal(message % args, self.server.app.settings.token))

    def log_message(self, format: str, *args: Any) -> None:
        # Only http.server's own messages arrive here (request lines and
        # errors); headers, where the token travels, are never logged.
        self._log(logging.DEBUG, format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Do nothing: :meth:`_send` logs every response itself."""


class _SandboxServer(ThreadingHTTPServer):
    """A threading server with bounded connections, which it can close on stop.

    At :attr:`max_connections`, a new connection closes the longest idle one
    (waiting for its next request); when none is idle, it gets a 503.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    #: Connections served at once, each by a thread.
    max_connections = 256
    #: Seconds a request may take to arrive in full, from its first byte.
    request_deadline = 10.0
    #: The largest request body read, in bytes.
    max_body = 1 << 20

    def __init__(self, host: str, port: int, app: SandboxApp) -> None:
        self.app = app
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._connections: set[socket.socket] = set()
        self._idle: dict[socket.socket, None] = {}  # oldest first
        self._connections_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_connections)
        super().__init__((host, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone before its answer is no error of the sandbox's: a debug line, not a
        traceback on stderr (the handlers answer their own errors with a 500)."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            logger.debug("client %s gone before its answer: %s", client_address, type(error).__name__)
            return
        super().handle_error(request, client_address)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # Small responses must not wait for Nagle's algorithm.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def process_request(self, request: Any, client_address: Any) -> None:
        if self._take_slot():
            super().process_request(request, client_address)
        else:
            self._refuse(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _take_slot(self) -> bool:
        if self._slots.acquire(blocking=False):
            return True
        with self._connections_lock:
            if not self._idle:
                return False
            oldest = next(iter(self._idle))
            del self._idle[oldest]
        with contextlib.suppress(OSError):
            oldest.shutdown(socket.SHUT_RDWR)
        return self._slots.acquire(timeout=_EVICTION_WAIT)

    def _refuse(self, request: socket.socket) -> None:
        """Answer 503 if that does not block, and close the connection."""
        logger.debug("%d connections busy: a new one is refused", self.max_connections)
        response = error_response(503, "Too many connections", (("Retry-After", "1"),))
        request.setblocking(False)
        with contextlib.suppress(OSError):
            request.send(_head(response, close=True) + response.body)
        self.shutdown_request(request)

    @contextlib.contextmanager
    def idle(self, connection: socket.socket) -> Iterator[None]:
        """Within the block, ``connection`` awaits a request and may be closed to make room."""
        with self._connections_lock:
            self._idle[connection] = None
        try:
            yield
        finally:
            with self._connections_lock:
                self._idle.pop(connection, None)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open connection, waking the threads that serve them."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def _tag_list(tags: object) -> list[str]:
    """``tags`` as a contact holds them; a string is refused, not split into its letters."""
    if not isinstance(tags, list | tuple) or not all(isinstance(tag, str) for tag in tags):
        raise ValueError(f"tags must be a list or tuple of strings, got {tags!r}")
    return list(tags)


class CallbellSandbox:
    """A local, Callbell-compatible API server for tests, demos and benchmarks.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with CallbellSandbox(contacts=5000, seed=1) as sandbox:
            requests.get(f"{sandbox.url}/contacts",
                         headers={"Authorization": f"Bearer {sandbox.token}"})

    Keyword arguments other than ``host``, ``port`` and ``settings`` are
    :class:`SandboxSettings` fields and override ``settings``. The contacts
    are generated when the sandbox is created, before it starts serving.

    With ``events_per_second`` above 0 the account is live while the sandbox
    runs: contacts get messages (and move to the top), appear, disappear and
    get tagged. :meth:`events` and :meth:`state` tell tests what happened;
    :meth:`apply_events` makes events happen on the spot, without a thread.

    Messages sent through the API are kept (:meth:`messages`); free-form ones
    to WhatsApp contacts need the customer to have written in the last 24
    hours: about half the seeded contacts did, contacts added later did not.
    :meth:`receive_message` and :meth:`close_window` steer that window,
    :meth:`make_unreachable` makes the messages to a number fail.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: SandboxSettings | None = None,
        **setting_values: Any,
    ) -> None:
        """Generate the contacts; ``port=0`` picks a free port on start."""
        resolved = (settings or SandboxSettings()).replace(**setting_values)
        self.host = host
        self._requested_port = port
        capacity = resolved.contact_capacity
        self._store = ContactStore.seeded(resolved.contacts, resolved.seed, capacity=capacity)
        self._messages = MessageBook(self._store, resolved.seed, capacity=resolved.message_capacity)
        self._app = SandboxApp(self._store, self._messages, resolved)
        self._events = EventSource(self._store, self._messages, resolved.resolved_event_seed)
        self._pump = EventPump(self._events, lambda: self._app.settings)
        self._server: _SandboxServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> CallbellSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> CallbellSandbox:
        """Bind the port, serve and apply live events from daemon threads; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._server = _SandboxServer(self.host, self._requested_port, self._app)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name="callbell-sandbox",
            daemon=True,
        )
        self._thread.start()
        self._pump.start()
        return self

    def stop(self) -> None:
        """Stop events and serving, close every connection; a no-op when not running."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._pump.stop()
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    @property
    def port(self) -> int:
        """The port the sandbox listens on."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:8765/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def token(self) -> str:
        """The API token clients must send as ``Authorization: Bearer <token>``."""
        return self.settings.token

    @property
    def settings(self) -> SandboxSettings:
        """The settings in force."""
        return self._app.settings

    @property
    def teams(self) -> list[dict[str, Any]]:
        """The team inboxes of the account; their uuids are stable for a seed."""
        return [dict(team) for team in self._store.catalog.teams]

    @property
    def templates(self) -> list[dict[str, Any]]:
        """The message templates of the account; their uuids are stable for a seed."""
        return [dict(template) for template in self._store.catalog.templates]

    @property
    def stats(self) -> SandboxStats:
        """What the sandbox served since start or :meth:`reset_stats`."""
        return self._app.stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the statistics."""
        self._app.stats.reset()

    def configure(self, **changes: Any) -> None:
        """Change settings while running, e.g. ``configure(error_rate=0.2)``.

        Raises:
            ValueError: an invalid value, an unknown name, or ``contacts``,
                ``seed``, ``contact_capacity`` or ``message_capacity``, which
                are fixed when the sandbox is created.
        """
        fixed = sorted(_FIXED_SETTINGS & set(changes))
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot change after creation")
        settings = self._app.settings.replace(**changes)
        if "event_seed" in changes:
            self._events.reseed(settings.resolved_event_seed)
        self._app.settings = settings
        self._pump.wake()

    def pause_events(self) -> None:
        """Stop live events; once this returns, none happens until :meth:`resume_events`."""
        self._pump.pause()

    def resume_events(self) -> None:
        """Let live events happen again, at ``events_per_second``."""
        self._pump.resume()

    @contextlib.contextmanager
    def events_paused(self) -> Iterator[None]:
        """Pause live events within the block; they stay paused if they were before."""
        was_paused = self._pump.paused
        self.pause_events()
        try:
            yield
        finally:
            if not was_paused:
                self.resume_events()

    def apply_events(self, count: int) -> list[SandboxEvent]:
        """Apply ``count`` events right now, in this thread, and return them.

        The events follow the settings' ``event_mix``, ``event_tags`` and
        ``tag_message_rate`` whatever ``events_per_second`` is, paused or
        not, and continue the same seeded sequence as the background events.
        Fewer are applied only when no kind of event in the mix can happen.
        """
        return self._events.apply(self.settings, count)

    def events(self) -> list[SandboxEvent]:
        """Every live event applied so far, oldest first (API writes are not events)."""
        return self._events.events()

    def state(self) -> AccountState:
        """The contacts, their tags and the number of events so far, taken atomically.

        Take one before and one after a walk: ``events()[before.events:after.events]``
        are the events that happened during it.
        """
        return self._events.state()

    def expected_walk(
        self, before: AccountState, after: AccountState, *, tag: str | None = None
    ) -> WalkExpectation:
        """What a walk of the contacts (with the ``tag`` filter) between two states must hand out.

        ``expected_walk(before, after).check(uuids)`` tells what a walk missed, repeated, or
        handed out without reason.
        """
        return WalkExpectation.between(before, after, self._events.events(), tag)

    def add_contact(
        self,
        *,
        name: str,
        phoneNumber: str | None = None,
        source: str = "whatsapp",
        tags: Sequence[str] = (),
        createdAt: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add a contact at the top of the list (its conversation is the newest).

        ``fields`` are further contact fields under their API names (``uuid``,
        ``customFields``, ``team``, ...). A unique phone number, a uuid and
        ``createdAt`` (now) are generated when not given. Its customer has not
        written yet: see :meth:`receive_message`.

        Raises:
            ValueError: ``tags`` is no list or tuple of strings, a field holds
                text that is not valid Unicode, the uuid or phone number belongs
                to another contact, or the account holds ``contact_capacity``
                contacts.
        """
        values: dict[str, Any] = {"name": name, "source": source, "tags": _tag_list(tags)}
        if phoneNumber is not None:
            values["phoneNumber"] = phoneNumber
        if createdAt is not None:
            values["createdAt"] = createdAt
        return self._store.add({**values, **fields}).decode()

    def update_contact(self, uuid: str, touch: bool = False, **fields: Any) -> dict[str, Any]:
        """Set contact fields (API names, values replaced as given).

        ``touch=True`` also moves the contact to the top of the list, as a new
        message would; otherwise it keeps its place.

        Raises:
            KeyError: no contact has ``uuid``.
            ValueError: ``tags`` is no list or tuple of strings, a field holds
                text that is not valid Unicode, or ``fields`` change the uuid or
                reuse a phone number.
        """
        if "tags" in fields:
            fields["tags"] = _tag_list(fields["tags"])
        record = self._store.update(uuid, lambda contact: contact.update(fields), touch=touch)
        return record.decode()

    def delete_contact(self, uuid: str) -> None:
        """Delete the contact with ``uuid``.

        Raises:
            KeyError: no contact has ``uuid``.
        """
        self._store.delete(uuid)

    def get_contact(self, uuid: str) -> dict[str, Any]:
        """The contact with ``uuid``.

        Raises:
            KeyError: no contact has ``uuid``.
        """
        record = self._store.get(uuid)
        if record is None:
            raise KeyError(uuid)
        return record.decode()

    def contacts(self) -> list[dict[str, Any]]:
        """Every contact in API order (most recent conversation first)."""
        return self._store.snapshot()

    def messages(self, uuid: str | None = None) -> list[dict[str, Any]]:
        """Every message kept, or those of the contact ``uuid``, in the order they came.

        Each has its ``direction`` (``outbound``: sent through the API,
        ``inbound``: :meth:`receive_message`) and its ``status`` right now.
        """
        return [self._message_json(message) for message in self._messages.messages(uuid)]

    def receive_message(self, uuid: str, text: str = "Hello!") -> dict[str, Any]:
        """The customer of contact ``uuid`` writes ``text`` now.

        That opens its 24-hour window and moves it to the top, as a
        ``message`` event does; the message is kept, as inbound.

        Raises:
            KeyError: no contact has ``uuid``.
        """
        return self._message_json(self._messages.receive(uuid, text))

    def close_window(self, uuid: str) -> None:
        """Make the last message of the customer of contact ``uuid`` older than 24 hours.

        Raises:
            KeyError: no contact has ``uuid``.
        """
        self._messages.close_window(uuid)

    def make_unreachable(self, phone_number: str) -> None:
        """Make every message sent from now on to ``phone_number`` fail (formatting ignored).

        Raises:
            ValueError: ``phone_number`` has no digit.
        """
        self._messages.make_unreachable(phone_number)

    def _message_json(self, message: Message) -> dict[str, Any]:
        return sent_json(message, self._messages.progress(message, self.settings.message_status_interval))

    def airflow_connection(self) -> str:
        """The connection as JSON, for an ``AIRFLOW_CONN_<ID>`` variable."""
        return json.dumps({"conn_type": "callbell", "host": self.url, "password": self.token})
