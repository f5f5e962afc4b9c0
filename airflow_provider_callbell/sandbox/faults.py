"""Deterministic fault injection: which request fails, how, and how slowly.

One random stream seeded from the sandbox seed decides, under a lock, so a
given request sequence always meets the same faults. Each kind of fault cycles
through its variants, so a short test sees all of them.

Reads and writes draw from the same stream, with the same layout of rates;
truncation only applies to reads and a lost reply only to writes, so a draw
that lands on the other one's share is no fault.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import TYPE_CHECKING

from airflow_provider_callbell.sandbox.catalog import seeded_random
from airflow_provider_callbell.sandbox.responses import (
    HTML_TYPE,
    Delivery,
    Response,
    error_response,
    too_many_requests,
)

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox.settings import SandboxSettings

_ERROR_STATUSES = (500, 502, 503)
#: How many faulted requests the per-request bound remembers, the one least recently
#: seen going first: a client sending ever new requests cannot grow the injector.
REMEMBERED_REQUESTS = 100_000
_THROTTLE_DELAY = 1.0
#: A connection closed without an answer.
DROPPED = Response(0, delivery=Delivery.DROP)


class FaultKind(enum.Enum):
    """The kinds of injected fault."""

    ERROR = "error"
    THROTTLE = "throttle"
    DROP = "drop"
    TRUNCATE = "truncate"
    LOST_REPLY = "lost_reply"


#: The kinds that hit before the request is served: nothing is applied.
REFUSALS = frozenset({FaultKind.ERROR, FaultKind.THROTTLE, FaultKind.DROP})


def _rates(settings: SandboxSettings, *, write: bool) -> tuple[tuple[FaultKind, float], ...]:
    """Every kind with its rate; 0 for the kind that does not apply to ``write``."""
    excluded = FaultKind.TRUNCATE if write else FaultKind.LOST_REPLY
    rates = (
        (FaultKind.ERROR, settings.error_rate),
        (FaultKind.THROTTLE, settings.throttle_rate),
        (FaultKind.DROP, settings.drop_rate),
        (FaultKind.TRUNCATE, settings.truncate_rate),
        (FaultKind.LOST_REPLY, settings.lost_reply_rate),
    )
    return tuple((kind, 0.0 if kind is excluded else rate) for kind, rate in rates)


@dataclass(frozen=True, slots=True)
class Fault:
    """An injected fault; ``ordinal`` counts earlier faults of the same kind."""

    kind: FaultKind
    ordinal: int


class FaultInjector:
    """Decides faults and latency for requests, reproducibly for a seed."""

    def __init__(self, seed: int) -> None:
        """Create an injector whose decisions depend only on ``seed``."""
        self._lock = threading.Lock()
        self._faults = seeded_random("faults", seed)
        self._jitter = seeded_random("latency", seed)
        self._per_request: OrderedDict[bytes, int] = OrderedDict()
        self._per_kind: Counter[FaultKind] = Counter()

    @property
    def remembered(self) -> int:
        """How many requests' fault counts are kept (at most :data:`REMEMBERED_REQUESTS`)."""
        with self._lock:
            return len(self._per_request)

    def draw(self, settings: SandboxSettings, key: bytes, *, write: bool) -> Fault | None:
        """Decide whether the request whose :func:`request_key` is ``key`` fails.

        A request gets at most ``settings.max_faults_per_request`` faults,
        so a client that retries gets through; the count is kept for the
        :data:`REMEMBERED_REQUESTS` requests last faulted or refused a fault.
        ``write`` tells a write, which a lost reply may hit, from a read,
        which truncation may spoil.
        """
        rates = _rates(settings, write=write)
        if not any(rate for _, rate in rates):
            return None
        with self._lock:
            faults = self._per_request.get(key, 0)
            if faults:
                self._per_request.move_to_end(key)
            if faults >= settings.max_faults_per_request:
                return None
            kind = _pick(rates, self._faults.random())
            if kind is None:
                return None
            self._remember(key, faults + 1)
            ordinal = self._per_kind[kind]
            self._per_kind[kind] += 1
            return Fault(kind, ordinal)

    def _remember(self, key: bytes, faults: int) -> None:
        self._per_request[key] = faults  # a known key was moved to the end already
        if len(self._per_request) > REMEMBERED_REQUESTS:
            self._per_request.popitem(last=False)

    def latency(self, settings: SandboxSettings) -> float:
        """Seconds to wait before answering: the latency plus random jitter."""
        if not settings.latency_jitter:
            return settings.latency
        with self._lock:
            return settings.latency + self._jitter.uniform(0, settings.latency_jitter)


def request_key(method: str, target: str, body: bytes) -> bytes:
    """A fixed-size digest of a request, for :meth:`FaultInjector.draw`."""
    # The body's digest has a fixed length, a method no space: the parts cannot run together.
    named = hashlib.sha256(body).digest() + f"{method} {target}".encode()
    return hashlib.sha256(named).digest()


def _pick(rates: tuple[tuple[FaultKind, float], ...], draw: float) -> FaultKind | None:
    threshold = 0.0
    for kind, rate in rates:
        threshold += rate
        if draw < threshold:
            return kind
    return None


def fault_response(fault: Fault, settings: SandboxSettings) -> Response:
    """The response standing in for a request hit by an error, throttle or drop."""
    if fault.kind is FaultKind.THROTTLE:
        return too_many_requests(settings.retry_after_format, _THROTTLE_DELAY)
    if fault.kind is FaultKind.DROP:
        return DROPPED
    status = _ERROR_STATUSES[fault.ordinal % len(_ERROR_STATUSES)]
    if fault.ordinal % 2 == 0:
        return error_response(status, "Internal server error")
    return Response(status, _proxy_page(status), content_type=HTML_TYPE)


def _proxy_page(status: int) -> bytes:
    title = f"{status} {HTTPStatus(status).phrase}"
    return f"<html><body><h1>{title}</h1></body></html>".encode()


def truncate(response: Response, fault: Fault) -> Response:
    """Spoil ``response``: alternately cut off mid-body, or a complete but cut body."""
    if fault.ordinal % 2 == 0:
        return replace(response, delivery=Delivery.SHORT_WRITE)
    return replace(response, body=response.body[: len(response.body) // 2])
