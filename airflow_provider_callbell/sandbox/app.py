"""The request pipeline: auth, rate limit, fault injection, latency, endpoint."""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, parse_qsl, urlsplit

from airflow_provider_callbell.sandbox.endpoints import PREFIX, Call, Endpoints
from airflow_provider_callbell.sandbox.faults import (
    DROPPED,
    REFUSALS,
    Fault,
    FaultInjector,
    FaultKind,
    fault_response,
    request_key,
    truncate,
)
from airflow_provider_callbell.sandbox.responses import (
    Delivery,
    Request,
    Response,
    error_response,
    too_many_requests,
)
from airflow_provider_callbell.sandbox.traffic import RateLimiter, RequestStats

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_callbell.sandbox.messages import MessageBook
    from airflow_provider_callbell.sandbox.settings import SandboxSettings
    from airflow_provider_callbell.sandbox.store import ContactStore

_FAULTY_PATHS = (PREFIX + "/contacts", PREFIX + "/messages")


class SandboxApp:
    """Turns requests into responses; thread-safe, independent of sockets.

    ``settings`` may be replaced at any time; each request reads it once.
    """

    def __init__(
        self,
        store: ContactStore,
        messages: MessageBook,
        settings: SandboxSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Serve ``store`` and ``messages`` under ``settings``; ``sleep`` implements delays."""
        self.store = store
        self.settings = settings
        self.stats = RequestStats()
        self._sleep = sleep
        self._limiter = RateLimiter()
        self._faults = FaultInjector(settings.seed)
        self._endpoints = Endpoints(store, messages)

    def handle(self, request: Request) -> Response:
        """Answer ``request`` and count it in :attr:`stats`."""
        self.stats.arrived(request.method)
        response = self._answer(request, self.settings)
        if response.delivery is not Delivery.DROP:
            self.stats.responded(response.status)
        return response

    def authorized(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries the token in force."""
        return _authorized(authorization, self.settings.token)

    def _answer(self, request: Request, settings: SandboxSettings) -> Response:
        refusal = self._refusal(request, settings)
        if refusal is not None:
            return refusal
        target = urlsplit(request.target)
        fault = self._draw_fault(request, target.path, settings)
        delay = self._faults.latency(settings)
        if delay:
            self._sleep(delay)
        if fault is not None and fault.kind in REFUSALS:
            self.stats.fault(fault.kind.value)
            return fault_response(fault, settings)
        response = self._dispatch(request, target, settings)
        # Only successes are spoiled: a client cannot retry its way past a
        # garbled 4xx, so it could never learn, say, that the page cap is hit;
        # and a lost reply stands for a write that was applied.
        if fault is None or response.status != 200:
            return response
        self.stats.fault(fault.kind.value)
        if fault.kind is FaultKind.LOST_REPLY:
            self._sleep(settings.lost_reply_delay)
            return DROPPED
        return truncate(response, fault)

    def _draw_fault(self, request: Request, path: str, settings: SandboxSettings) -> Fault | None:
        """The fault ``request`` meets, if any; a retried write is the same request."""
        if not _is_faulty_path(path):
            return None
        write = request.method != "GET"
        key = request_key(request.method, request.target, request.body if write else b"")
        return self._faults.draw(settings, key, write=write)

    def _dispatch(self, request: Request, target: SplitResult, settings: SandboxSettings) -> Response:
        handler, params = self._endpoints.resolve(request.method, target.path)
        query = dict(parse_qsl(target.query, keep_blank_values=True))
        return handler(Call(settings, params, query, request.body))

    def _refusal(self, request: Request, settings: SandboxSettings) -> Response | None:
        """The 401 or 429 that stops ``request`` before it reaches an endpoint."""
        if not _authorized(request.authorization, settings.token):
            return error_response(401, "Unauthorized")
        if settings.rate_limit is None:
            return None
        wait = self._limiter.acquire(settings.token, settings.rate_limit)
        if wait is None:
            return None
        self.stats.rate_limited()
        return too_many_requests(settings.retry_after_format, wait)


def _is_faulty_path(path: str) -> bool:
    return any(path == faulty or path.startswith(faulty + "/") for faulty in _FAULTY_PATHS)


def _authorized(header: str | None, token: str) -> bool:
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())
