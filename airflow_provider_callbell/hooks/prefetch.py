"""Fetching the pages ahead of the one being read, in a bounded thread pool."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
Params = Mapping[str, str]


class PagePrefetcher(Generic[T]):
    """Runs ``fetch`` for pages ahead in up to ``workers`` threads; hands results out by page number.

    With one worker nothing runs ahead: :meth:`take` fetches in the calling thread.
    """

    def __init__(self, fetch: Callable[[Params], T], workers: int) -> None:
        self._fetch = fetch
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="callbell-page") if workers > 1 else None
        self._pending: dict[int, Future[T]] = {}

    def __enter__(self) -> PagePrefetcher[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def schedule(self, pages: Mapping[int, Params]) -> None:
        """Start fetching these pages unless they are under way already."""
        if self._pool is None:
            return
        for number, params in pages.items():
            if number not in self._pending:
                self._pending[number] = self._pool.submit(self._fetch, params)

    def take(self, number: int | None, params: Params) -> T:
        """The answer for page ``number`` (fetched ahead or now); ``None`` for a cursor request."""
        future = self._pending.pop(number, None) if number is not None else None
        return future.result() if future is not None else self._fetch(params)

    def cancel(self) -> None:
        """Drop the pages fetched ahead, e.g. once Callbell refuses deeper page numbers."""
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
