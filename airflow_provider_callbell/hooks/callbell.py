"""The Callbell hook: one connection, one HTTP session, polite retries and a rate limit."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_callbell.api import contact_writes, messages
from airflow_provider_callbell.api.budget import RequestBudget, request_budget
from airflow_provider_callbell.api.filters import ContactFilters, TagsArg
from airflow_provider_callbell.api.pagination import Contact, ContactPage, ContactStream
from airflow_provider_callbell.api.progress import WalkProgress
from airflow_provider_callbell.api.responses import (
    CHUNK_BYTES,
    CappedBody,
    decode_response,
    one_line,
    request_name,
)
from airflow_provider_callbell.api.selection import parse_moment
from airflow_provider_callbell.api.transport import (
    Deadline,
    DeadlineAdapter,
    Environment,
    conceal_in_urllib3_logs,
    transport_failure,
)
from airflow_provider_callbell.api.walk import ContactWalk, PageRequest
from airflow_provider_callbell.arguments import (
    conn_id,
    contact_uuid,
    flag,
    optional_identifier,
    request_arguments,
)
from airflow_provider_callbell.arguments import phone_number as _phone_number
from airflow_provider_callbell.connection import (
    CONN_TYPE,
    DEFAULT_CONN_ID,
    FORM,
    REDIS_CONN_EXTRA,
    REDIS_CONN_FIELD,
    SETTINGS,
    ClientConfig,
    checked_settings,
)
from airflow_provider_callbell.exceptions import CallbellError, CallbellNotFoundError

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection

    from airflow_provider_callbell.api.retry import RetryPolicy
    from airflow_provider_callbell.api.writes import Lookup, Write

T = TypeVar("T")

DEFAULT_POOL_SIZE = 10


class CallbellHook(BaseHook):
    """
    Talks to the Callbell REST API with the token of a ``callbell`` connection.

    One ``requests`` session is reused for every call (keep-alive). Failed calls that a retry
    may cure (429, 5xx, connection errors, timeouts, unparsable bodies) are retried with
    exponential backoff and jitter, waiting as ``Retry-After`` asks on 429; requests are
    spaced so the hook never sends more than ``max_requests_per_second``, across all threads.

    Each setting is read from the constructor argument, else the connection's extra of the
    same name, else the default.

    :param callbell_conn_id: the ``callbell`` connection holding the API token (password) and
        optionally the base URL (host).
    :param timeout: seconds one request may take as a whole, answer included (default 30).
    :param connect_timeout: seconds to wait for the TCP/TLS connection (default 10).
    :param max_retries: retries of a request after a transient failure (default 5).
    :param retry_backoff: seconds before the first retry, doubled at each retry (default 0.5);
        a 429's ``Retry-After`` takes precedence.
    :param max_requests_per_second: client-side rate limit (default 200; Callbell allows 300): of
        this hook, or of the whole account when the connection's extra ``rate_limit_redis_conn_id``
        names an Airflow ``redis`` connection, where every task and worker shares it.
    """

    conn_name_attr = "callbell_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Callbell"

    progress_interval: float = 5.0

    def __init__(
        self,
        callbell_conn_id: str = default_conn_name,
        *,
        timeout: float | timedelta | None = None,
        connect_timeout: float | timedelta | None = None,
        max_retries: int | None = None,
        retry_backoff: float | timedelta | None = None,
        max_requests_per_second: float | None = None,
        **kwargs: Any,
    ) -> None:
        base = {"logger_name": kwargs.pop("logger_name")} if "logger_name" in kwargs else {}
        self._overrides = checked_settings(  # a misspelt setting is named, as the async hook does
            {
                "timeout": timeout,
                "connect_timeout": connect_timeout,
                "max_retries": max_retries,
                "retry_backoff": retry_backoff,
                "max_requests_per_second": max_requests_per_second,
                **kwargs,
            }
        )
        super().__init__(**base)
        self.callbell_conn_id = conn_id(callbell_conn_id, "callbell_conn_id")
        self._lock = threading.Lock()
        # Threads wait for the rate limit one at a time, so none is passed over again and again.
        self._queue = threading.Lock()
        self._pool_size = DEFAULT_POOL_SIZE

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form on Airflow 2.x (3.x reads the provider info instead)."""
        return FORM

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form on Airflow 2.x."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, StringField
        from wtforms.validators import NumberRange, Optional

        fields: dict[str, Any] = {}
        for name, setting in SETTINGS.items():
            field_class = IntegerField if setting.whole else StringField
            validators = [Optional(), NumberRange(min=0)] if setting.whole else [Optional()]
            fields[name] = field_class(
                lazy_gettext(setting.label),
                description=setting.description,
                validators=validators,
                widget=BS3TextFieldWidget(),
            )
        fields[REDIS_CONN_EXTRA] = StringField(
            lazy_gettext(REDIS_CONN_FIELD["label"]),
            description=REDIS_CONN_FIELD["description"],
            validators=[Optional()],
            widget=BS3TextFieldWidget(),
        )
        return fields

    @cached_property
    def connection(self) -> Connection:
        """The Airflow connection, read once."""
        return self.get_connection(self.callbell_conn_id)

    @cached_property
    def config(self) -> ClientConfig:
        """Base URL, token, timeouts, retries and rate limit in force."""
        return ClientConfig.of(self.connection, self._overrides, self.callbell_conn_id)

    @property
    def base_url(self) -> str:
        """The API base URL, without a trailing slash."""
        return self.config.base_url

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """How transient failures are retried."""
        return self.config.retry_policy

    @cached_property
    def budget(self) -> RequestBudget:
        """The requests this hook may send, whatever thread sends them: its own limit, or the
        account's budget shared through Redis (``rate_limit_redis_conn_id``)."""
        return request_budget(self.config)

    def get_conn(self) -> requests.Session:
        """The HTTP session, created on first use and reused afterwards, whatever the thread."""
        with self._lock:
            return self._session

    @cached_property
    def _session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update(self.config.headers)
        conceal_in_urllib3_logs(self.config.token)
        # Proxies and CA bundle come from the environment once, not at every request: with
        # Airflow's environment that lookup costs about as much as decoding a page.
        environment = Environment.of(self.base_url)
        session.trust_env = False
        session.proxies = environment.proxies
        session.verify = environment.ca_bundle or True
        self._mount(session)
        return session

    def _mount(self, session: requests.Session) -> None:
        adapter = DeadlineAdapter(pool_connections=1, pool_maxsize=self._pool_size)
        session.mount("https://", adapter)
        session.mount("http://", adapter)

    def _keep_alive_for(self, threads: int) -> None:
        """Let ``threads`` concurrent requests all keep their connection alive."""
        with self._lock:
            if threads > self._pool_size:
                self._pool_size = threads
                if "_session" in self.__dict__:
                    self._mount(self._session)

    def close(self) -> None:
        """Close the HTTP session and its pooled connections."""
        if "_session" in self.__dict__:
            self.__dict__.pop("_session").close()
        if "budget" in self.__dict__:
            self.__dict__.pop("budget").close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | float] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one API call with retries and rate limiting; return the decoded JSON answer.

        :param method: HTTP method, e.g. ``GET``.
        :param path: path under the base URL, e.g. ``contacts`` or ``auth/me``.
        :param params: query parameters.
        :param json: JSON request body.
        :raises CallbellError: or one of its subclasses, once retries are exhausted.
        """
        checked = request_arguments(method, path, params, json)
        return self._retrying(self._send, *checked)

    def _retrying(self, call: Callable[..., T], *args: Any) -> T:
        return self.retry_policy.retrying(self.log)(call, *args)

    def _send(self, method: str, path: str, params: Mapping[str, str] | None, json: Any) -> Any:
        what = request_name(method, path)
        session = self.get_conn()
        with self._lock:
            budget = self.budget
        with self._queue:
            budget.acquire()
        config = self.config
        failure = None
        with Deadline(what, config.timeout):
            try:
                response = session.request(
                    method,
                    f"{config.base_url}/{path}",
                    params=params,
                    json=json,
                    timeout=(config.connect_timeout, config.timeout),
                    allow_redirects=False,
                    stream=True,
                )
                with contextlib.closing(response):
                    body = CappedBody(what)
                    for chunk in response.iter_content(CHUNK_BYTES):
                        body.add(chunk)
            except requests.RequestException as error:
                failure = transport_failure(what, error, config)
        if failure:
            raise failure
        return decode_response(
            response.status_code, response.headers, body.read(), what=what, secret=config.token
        )

    def _contact_page(self, params: Mapping[str, str]) -> ContactPage:
        return self._retrying(lambda: ContactPage.parse(self._send("GET", "contacts", params, None)))

    def iter_contacts(
        self,
        filters: ContactFilters | None = None,
        *,
        source: str | None = None,
        tags: TagsArg = None,
        team_uuid: str | None = None,
        include_field_types: bool = False,
        concurrency: int = 1,
    ) -> ContactStream:
        """Yield every contact matching the filters once, even while the account changes.

        Contacts come in the order Callbell lists them (most recent conversation first) as it
        stood when the walk read each stretch; contacts that moved to the top while the walk
        ran come when it finds them there. See the README for what is guaranteed on a live
        account.
        Memory holds a few pages per request under way, plus the uuids handed out (8 bytes a
        contact past the first 50,000). Arguments are checked before any request is sent.

        :param filters: the filters, validated (:meth:`ContactFilters.of`); or give them as
            the keyword arguments below, not both.
        :param source: integration type, e.g. ``whatsapp``.
        :param tags: a list of tags or a comma-separated string; Callbell matches them
            case-insensitively.
        :param team_uuid: only contacts of this team inbox.
        :param include_field_types: add ``customFieldsMetadata`` to each contact.
        :param concurrency: requests under way at once: stretches of the list are read side by
            side when Callbell offers cursors. The rate limit holds whatever the concurrency.
        """
        filters = ContactFilters.given(
            filters, source=source, tags=tags, team_uuid=team_uuid, include_field_types=include_field_types
        )
        walk = ContactWalk(filters, concurrency=concurrency, log=self.log, clock=time.monotonic)
        self._keep_alive_for(walk.concurrency + 1)
        return ContactStream(walk, self._walk(walk, walk.concurrency))

    def _walk(self, walk: ContactWalk, concurrency: int) -> Generator[Contact, None, None]:
        progress = WalkProgress(self.log, interval=self.progress_interval)
        running: dict[Future[ContactPage], PageRequest] = {}
        with ThreadPoolExecutor(concurrency, thread_name_prefix="callbell-page") as pool:
            try:
                while not walk.done:
                    for request in walk.due():
                        running[pool.submit(self._contact_page, request.params)] = request
                    finished, _ = wait(running, timeout=walk.wait_time(), return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield from walk.answer(running.pop(future), future.result)
                    progress.update(pages=walk.pages_read, items=walk.contacts_read)
            finally:
                for future in running:
                    future.cancel()
        self.log.info("Read %s", progress.summary())

    def get_contact(self, uuid: str, *, include_field_types: bool = False) -> Contact:
        """One contact by its Callbell uuid.

        :raises CallbellNotFoundError: when no contact has that uuid.
        """
        checked = contact_uuid(uuid, "uuid")
        params = {"include_field_types": "true"} if flag(include_field_types, "include_field_types") else None
        answer = self.request("GET", contact_writes.contact_path(checked), params=params)
        return contact_writes.single_contact(answer, checked)

    def get_contact_by_phone(self, phone_number: str, *, channel_uuid: str | None = None) -> Contact:
        """One contact by phone number, on a channel (default: the main WhatsApp channel).

        :raises CallbellNotFoundError: when no contact has that number.
        """
        number = _phone_number(phone_number, "phone_number")
        lookup = contact_writes.phone_lookup(number, optional_identifier(channel_uuid, "channel_uuid"))
        answer = self.request("GET", lookup.path, params=lookup.params)
        return contact_writes.single_contact(answer, phone=number)

    def write(self, write: Write[T]) -> T:
        """Send one write with retries, never applying it twice.

        After a failure that may hide an applied write (lost answer, 5xx), the write's lookup
        runs before it is sent again, and its finding is the result when it was applied.
        """

        def attempt() -> T:
            if write.needs_lookup and write.find is not None:
                found = self._look_up(write.find())
                if found is not None:
                    self.log.warning("%s was applied though its answer was lost: not sent again", write.what)
                    return found
            try:
                return write.parse(self._send(write.method, write.path, None, write.body))
            except CallbellError as error:
                write.failed(error)
                raise

        return self._retrying(attempt)

    def _look_up(self, lookup: Lookup[T]) -> T | None:
        try:
            get = next(lookup)
            while True:
                try:
                    document = self.request("GET", get.path, params=get.params)
                except CallbellNotFoundError as missing:
                    get = lookup.throw(missing)
                else:
                    get = lookup.send(document)
        except StopIteration as done:
            found: T | None = done.value
            return found

    def create_contact(
        self,
        phone_number: str,
        *,
        name: str,
        source: str = "whatsapp",
        channel_uuid: str | None = None,
        **changes: Any,
    ) -> Contact:
        """Create a contact; never twice, even when an answer is lost (its number is looked up).

        :param phone_number: the contact's number (Callbell's ``identifier``).
        :param name: the contact's name.
        :param source: the integration, ``whatsapp`` by default.
        :param channel_uuid: the channel, when the account has several of ``source``.
        :param changes: ``tags``, ``custom_fields``, ``assigned_user``, ``team_uuid``, ``note``.
        :raises CallbellClientError: when Callbell refuses it (HTTP 409: the number is taken).
        """
        return self.write(contact_writes.create_contact(phone_number, name, source, channel_uuid, changes))

    def update_contact(self, uuid: str, **changes: Any) -> Contact:
        """Change a contact: ``name``, ``tags`` (the whole list), ``custom_fields`` (those named),
        ``assigned_user`` or ``unassign_user=True``, ``team_uuid``, ``note`` (None clears it).

        :raises CallbellNotFoundError: when no contact has that uuid.
        """
        return self.write(contact_writes.update_contact(uuid, changes))

    def delete_contact(self, uuid: str) -> None:
        """Delete a contact.

        :raises CallbellNotFoundError: when no contact has that uuid.
        """
        self.write(contact_writes.delete_contact(uuid))

    def send_message(
        self, message: messages.OutgoingMessage, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Send a message; never twice, even when an answer is lost.

        The idempotency key travels in the message's metadata: a send whose answer was lost is
        looked for among the recipient's messages before it is sent again.

        :param message: what to send, to whom.
        :param idempotency_key: names this message for good (by default a new random one): give
            the same key again, and a lost send is found rather than repeated.
        :return: the message: ``uuid`` and ``status`` (``enqueued``).
        :raises CallbellMessageWindowError: free-form text outside WhatsApp's 24-hour window.
        :raises CallbellWriteUncertainError: the answer was lost and Callbell cannot tell.
        """
        key = messages.send_key(idempotency_key)
        return self.write(messages.send_message(message, key))

    def get_message_status(self, uuid: str) -> dict[str, Any]:
        """A sent message and its ``status``: enqueued, sent, delivered, read or failed."""
        return messages.sent_message(self.request("GET", messages.status_path(uuid)), uuid)

    def find_sent_message(
        self, message: messages.OutgoingMessage, idempotency_key: str, *, since: datetime | str
    ) -> dict[str, Any] | None:
        """The message sent with ``idempotency_key`` to ``message.to`` since ``since``, if any.

        :raises CallbellWriteUncertainError: when Callbell's message list cannot tell.
        """
        moment = parse_moment(since, "since")
        if moment is None:
            raise ValueError("since must be a moment: a datetime (naive means UTC) or an ISO 8601 string")
        find = messages.send_message(message, messages.send_key(idempotency_key), now=moment).find
        return self._look_up(find()) if find is not None else None

    def test_connection(self) -> tuple[bool, str]:
        """Check the token with one ``GET /auth/me``, for the UI's, the API's and the CLI's test.

        One attempt, no retries: the answer comes within the connection's timeouts.
        """
        try:
            me = self._send("GET", "auth/me", None, None)
        except Exception as error:
            return False, str(error)
        finally:
            self.close()
        who = (me.get("user_email") or me.get("user_name")) if isinstance(me, Mapping) else None
        shown = one_line(who[:1000], self.config.token) if isinstance(who, str) else ""
        return True, f"Connected to Callbell at {self.base_url}" + (f" as {shown}" if shown else "")
