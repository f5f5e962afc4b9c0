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
import threading
from collections import Counter
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
        self._per_request: Counter[str] = Counter()
        self._per_kind: Counter[FaultKind] = Counter()

    def draw(self, settings: SandboxSettings, request_key: str, *, write: bool) -> Fault | None:
        """Decide whether the request identified by ``request_key`` fails.

        A request key gets at most ``settings.max_faults_per_request`` faults
        in the injector's lifetime, so a client that retries gets through.
        ``write`` tells a write, which a lost reply may hit, from a read,
        which truncation may spoil.
        """
        rates = _rates(settings, write=write)
        if not any(rate for _, rate in rates):
            return None
        with self._lock:
            if self._per_request[request_key] >= settings.max_faults_per_request:
                return None
            kind = _pick(rates, self._faults.random())
            if kind is None:
                return None
            self._per_request[request_key] += 1
            ordinal = self._per_kind[kind]
            self._per_kind[kind] += 1
            return Fault(kind, ordinal)

    def latency(self, settings: SandboxSettings) -> float:
        """Seconds to wait before answering: the latency plus random jitter."""
        if not settings.latency_jitter:
            return settings.latency
        with self._lock:
            return settings.latency + self._jitter.uniform(0, settings.latency_jitter)


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
