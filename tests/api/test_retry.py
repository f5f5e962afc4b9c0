"""The retry policy: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_callbell.api.retry import RetryPolicy
from airflow_provider_callbell.exceptions import (
    CallbellAuthError,
    CallbellRateLimitError,
    CallbellServerError,
)

log = logging.getLogger(__name__)


def failing(errors: list[Exception]) -> object:
    def call() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    return call


def test_transient_errors_are_retried_with_retry_after_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    retrying = RetryPolicy(max_retries=3, backoff=0.001).retrying(log)
    retrying.sleep = waits.append
    errors: list[Exception] = [CallbellRateLimitError("429", retry_after=2.5), CallbellServerError("500")]

    assert retrying(failing(errors)) == "ok"  # type: ignore[arg-type]
    assert waits[0] == 2.5
    assert waits[1] < 0.01


def test_retry_after_is_capped() -> None:
    waits: list[float] = []
    retrying = RetryPolicy(max_retries=1, max_retry_after=5).retrying(log)
    retrying.sleep = waits.append

    retrying(failing([CallbellRateLimitError("429", retry_after=3600)]))  # type: ignore[arg-type]

    assert waits == [5]


def test_backoff_grows_and_is_bounded() -> None:
    waits: list[float] = []
    retrying = RetryPolicy(max_retries=6, backoff=1, max_backoff=8).retrying(log)
    retrying.sleep = waits.append

    retrying(failing([CallbellServerError("500") for _ in range(6)]))  # type: ignore[arg-type]

    assert waits[0] < waits[2] < waits[4]
    assert all(wait <= 8 + 1 for wait in waits)


def test_permanent_errors_are_not_retried() -> None:
    retrying = RetryPolicy(max_retries=3).retrying(log)
    errors: list[Exception] = [CallbellAuthError("401")]

    with pytest.raises(CallbellAuthError):
        retrying(failing(errors))  # type: ignore[arg-type]


def test_gives_up_after_max_retries_with_the_last_error() -> None:
    retrying = RetryPolicy(max_retries=2, backoff=0.001).retrying(log)
    errors: list[Exception] = [CallbellServerError(str(n)) for n in range(5)]

    with pytest.raises(CallbellServerError, match=r"^2$"):
        retrying(failing(errors))  # type: ignore[arg-type]
    assert len(errors) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_retries": -1}, "max_retries must be a whole number >= 0"), ({"backoff": -1}, "backoff must be")],
)
def test_bad_policy(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
