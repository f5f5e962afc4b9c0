"""Rows worked on side by side, their results handed out in row order with bounded memory."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from typing import TypeVar

from airflow_provider_callbell.exceptions import CallbellAuthError, CallbellConfigurationError

T = TypeVar("T")

#: Errors that stop a batch at once: every row would fail the same way (a refused token, a
#: connection that cannot work). Any other error of a row is that row's failure.
BATCH_FATAL = (CallbellAuthError, CallbellConfigurationError)


def in_order(futures: Iterable[Future[T]], window: int) -> Iterator[T]:
    """The results of ``futures`` in the order given, drawing at most ``window`` ahead.

    Results already in are handed out as soon as those before them are; only a full window
    waits for its oldest. Rows that need no request finish at once, so the window must be many
    times the pool's threads for the pool to stay busy behind a slow row.
    """
    pending: deque[Future[T]] = deque()
    for future in futures:
        pending.append(future)
        while pending and (pending[0].done() or len(pending) >= window):
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def window_for(threads: int) -> int:
    """How many rows may be started ahead of the oldest unreported one."""
    return 64 * threads


def done(result: T) -> Future[T]:
    """A future already holding ``result``: a row settled without any request."""
    future: Future[T] = Future()
    future.set_result(result)
    return future
