"""When and how long to retry a failed Callbell request (built on tenacity)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from airflow_provider_callbell.exceptions import CallbellRateLimitError, CallbellTransientError

if TYPE_CHECKING:
    from airflow_provider_callbell.api.logs import Log


class wait_retry_after(wait_base):
    """Wait as long as a 429's ``Retry-After`` asks, else as ``fallback`` says, each capped."""

    def __init__(self, fallback: wait_base, cap: float, fallback_cap: float) -> None:
        self.fallback = fallback
        self.cap = cap
        self.fallback_cap = fallback_cap

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, CallbellRateLimitError) and error.retry_after is not None:
            return min(error.retry_after, self.cap)
        return min(float(self.fallback(retry_state)), self.fallback_cap)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient failures: 429, 5xx, transport errors and unparsable bodies.

    :param max_retries: retries after the first attempt; 0 disables retrying.
    :param backoff: first wait in seconds, doubled at each retry, plus up to as much jitter.
    :param max_backoff: longest wait between two attempts when Callbell gave no ``Retry-After``,
        jitter included.
    :param max_retry_after: longest wait honoured from a ``Retry-After`` header.
    """

    max_retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if (
            not isinstance(self.max_retries, int)
            or isinstance(self.max_retries, bool)
            or self.max_retries < 0
        ):
            raise ValueError(f"max_retries must be a whole number >= 0, got {self.max_retries!r}")
        for name in ("backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")

    def _options(self, log: Log) -> dict[str, Any]:
        backoff = wait_exponential(multiplier=self.backoff, max=self.max_backoff) + wait_random(
            0, self.backoff
        )

        def announce(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s; retrying in %.1f s (attempt %d of %d)",
                error,
                state.upcoming_sleep,
                state.attempt_number + 1,
                self.max_retries + 1,
            )

        return {
            "retry": retry_if_exception_type(CallbellTransientError),
            "stop": stop_after_attempt(self.max_retries + 1),
            "wait": wait_retry_after(backoff, self.max_retry_after, self.max_backoff),
            "before_sleep": announce,
            "reraise": True,
        }

    def retrying(self, log: Log) -> Retrying:
        """A synchronous tenacity controller applying this policy."""
        return Retrying(**self._options(log))

    def async_retrying(self, log: Log) -> AsyncRetrying:
        """An asyncio tenacity controller applying this policy."""
        return AsyncRetrying(**self._options(log))
