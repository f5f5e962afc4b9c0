"""Rows side by side, results in row order: a slow row holds back only its reporting."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from airflow_provider_callbell.batches import done, in_order


def test_results_come_in_order_while_later_rows_keep_starting() -> None:
    slow = threading.Event()
    started: list[int] = []

    def row(number: int) -> int:
        if number == 0:
            slow.wait(5)
        return number

    with ThreadPoolExecutor(2) as pool:

        def submitted() -> Iterator[Future[int]]:
            for number in range(10):
                started.append(number)
                if number == 8:
                    slow.set()  # row 0 finishes only once row 8 has started: no wait on it before
                yield pool.submit(row, number) if number % 2 == 0 else done(number)

        assert list(in_order(submitted(), window=64)) == list(range(10))
    assert started == list(range(10))


def test_a_full_window_waits_for_its_oldest() -> None:
    with ThreadPoolExecutor(1) as pool:
        futures = (pool.submit(int, n) for n in range(5))
        assert list(in_order(futures, window=1)) == [0, 1, 2, 3, 4]
