"""CallbellHook's twin for asyncio code such as triggers: same connection, limits and errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_callbell.api import messages
from airflow_provider_callbell.api.budget import RequestBudget, async_request_budget
from airflow_provider_callbell.api.filters import ContactFilters, TagsArg
from airflow_provider_callbell.api.pagination import Contact, ContactPage
from airflow_provider_callbell.api.responses import CHUNK_BYTES, CappedBody, decode_response, request_name
from airflow_provider_callbell.api.transport import Environment, transport_failure
from airflow_provider_callbell.api.walk import ContactWalk, PageRequest
from airflow_provider_callbell.arguments import conn_id, request_arguments
from airflow_provider_callbell.connection import CONN_TYPE, DEFAULT_CONN_ID, ClientConfig, checked_settings
from airflow_provider_callbell.exceptions import CallbellError, CallbellNotFoundError

if TYPE_CHECKING:
    from datetime import timedelta

    import aiohttp

    from airflow_provider_callbell.api.writes import Lookup, Write

T = TypeVar("T")


class CallbellAsyncHook(BaseHook):
    """
    Talks to the Callbell REST API from an event loop, never blocking it.

    The connection is read with Airflow's async helpers; requests go through one ``aiohttp``
    session, the same rate limiter, retry policy and typed errors as :class:`CallbellHook`.
    Close it with :meth:`aclose` when done.

    :param callbell_conn_id: the ``callbell`` connection.
    :param settings: ``timeout``, ``connect_timeout``, ``max_retries``, ``retry_backoff`` or
        ``max_requests_per_second``, overriding the connection's extras.
    """

    conn_name_attr = "callbell_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Callbell (asyncio)"

    def __init__(self, callbell_conn_id: str = DEFAULT_CONN_ID, **settings: float | timedelta | None) -> None:
        super().__init__()
        self.callbell_conn_id = conn_id(callbell_conn_id, "callbell_conn_id")
        self._overrides = checked_settings(settings)
        self._config: ClientConfig | None = None
        self._session: aiohttp.ClientSession | None = None
        self._environment = Environment({}, None)
        self._budget: RequestBudget | None = None

    async def config(self) -> ClientConfig:
        """The client settings, read from the connection once."""
        if self._config is None:
            from airflow.providers.common.compat.connection import get_async_connection

            conn = await get_async_connection(self.callbell_conn_id)
            self._config = ClientConfig.of(conn, self._overrides, self.callbell_conn_id)
        return self._config

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | float] | None = None,
        json: Any = None,
    ) -> Any:
        """:meth:`CallbellHook.request` from an event loop: the same arguments, checked alike."""
        checked = request_arguments(method, path, params, json)
        config = await self.config()
        return await config.retry_policy.async_retrying(self.log)(self._send, config, *checked)

    async def write(self, write: Write[T]) -> T:
        """:meth:`CallbellHook.write` from an event loop: retried, never applied twice."""
        config = await self.config()

        async def attempt() -> T:
            if write.needs_lookup and write.find is not None:
                found = await self._look_up(write.find())
                if found is not None:
                    self.log.warning("%s was applied though its answer was lost: not sent again", write.what)
                    return found
            try:
                return write.parse(await self._send(config, write.method, write.path, None, write.body))
            except CallbellError as error:
                write.failed(error)
                raise

        return await config.retry_policy.async_retrying(self.log)(attempt)

    async def _look_up(self, lookup: Lookup[T]) -> T | None:
        try:
            get = next(lookup)
            while True:
                try:
                    document = await self.request("GET", get.path, params=get.params)
                except CallbellNotFoundError as missing:
                    get = lookup.throw(missing)
                else:
                    get = lookup.send(document)
        except StopIteration as done:
            found: T | None = done.value
            return found

    async def send_message(
        self, message: messages.OutgoingMessage, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """:meth:`CallbellHook.send_message` from an event loop."""
        key = messages.send_key(idempotency_key)
        return await self.write(messages.send_message(message, key))

    async def get_message_status(self, uuid: str) -> dict[str, Any]:
        """:meth:`CallbellHook.get_message_status` from an event loop."""
        return messages.sent_message(await self.request("GET", messages.status_path(uuid)), uuid)

    async def _send(
        self,
        config: ClientConfig,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json: Any = None,
    ) -> Any:
        import aiohttp

        what = request_name(method, path)
        if self._budget is None:
            self._budget = await async_request_budget(config)
        await self._budget.acquire_async()
        if self._session is None:
            self._session = self._new_session(config)
        try:
            async with self._session.request(
                method,
                f"{config.base_url}/{path}",
                params=params,
                json=json,
                allow_redirects=False,
                proxy=self._environment.proxy_for(config.base_url),
            ) as response:
                body = CappedBody(what)
                async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                    body.add(chunk)
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            failure = transport_failure(what, error, config)
        else:
            return decode_response(
                response.status, response.headers, body.read(), what=what, secret=config.token
            )
        raise failure

    def _new_session(self, config: ClientConfig) -> aiohttp.ClientSession:
        """The session, with the proxies and CA bundle of the environment, as the sync hook's."""
        import aiohttp

        self._environment = Environment.of(config.base_url)
        context = self._environment.ssl_context()
        timeout = aiohttp.ClientTimeout(total=config.timeout, sock_connect=config.connect_timeout)
        connector = aiohttp.TCPConnector(ssl=context) if context else None
        return aiohttp.ClientSession(headers=config.headers, timeout=timeout, connector=connector)

    async def _contact_page(self, params: Mapping[str, str]) -> ContactPage:
        config = await self.config()

        async def fetch() -> ContactPage:
            return ContactPage.parse(await self._send(config, "GET", "contacts", params))

        return await config.retry_policy.async_retrying(self.log)(fetch)

    def iter_contacts(
        self,
        filters: ContactFilters | None = None,
        *,
        source: str | None = None,
        tags: TagsArg = None,
        team_uuid: str | None = None,
        include_field_types: bool = False,
        concurrency: int = 1,
    ) -> AsyncIterator[Contact]:
        """Yield every contact matching the filters once, even while the account changes.

        The walk of :meth:`CallbellHook.iter_contacts`, driven by asyncio tasks. Its arguments
        are checked at the call, as the sync hook's are, not when the first contact is awaited.
        """
        filters = ContactFilters.given(
            filters, source=source, tags=tags, team_uuid=team_uuid, include_field_types=include_field_types
        )
        return self._walk(ContactWalk(filters, concurrency=concurrency, log=self.log, clock=time.monotonic))

    async def _walk(self, walk: ContactWalk) -> AsyncIterator[Contact]:
        running: dict[asyncio.Task[ContactPage], PageRequest] = {}
        try:
            while not walk.done:
                for request in walk.due():
                    running[asyncio.ensure_future(self._contact_page(request.params))] = request
                finished, _ = await asyncio.wait(
                    running, timeout=walk.wait_time(), return_when=asyncio.FIRST_COMPLETED
                )
                for task in finished:
                    for contact in walk.answer(running.pop(task), task.result):
                        yield contact
        finally:
            for task in running:
                task.cancel()

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._budget is not None:
            await self._budget.aclose()
            self._budget = None
