"""Throughput check of the sandbox, run by hand (not collected by pytest).

    .venv/bin/python -m tests.sandbox.throughput_check [--contacts N] [--seconds S]
        [--events-per-second R] [--cursor] [--cursor-semantics keyset|snapshot]

Generates the contacts (reporting time and peak RSS), then has client processes,
each with a few threads and one ``requests.Session`` per thread, read pages of
20 for a few seconds: page numbers 1 to 50, or with ``--cursor`` walks that
follow ``meta.next`` from page 1. The clients run in their own processes so
that they do not compete with the server for its GIL.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import threading
import time

import requests

from airflow_provider_callbell.sandbox import CallbellSandbox


def _client_threads(url: str, token: str, threads: int, seconds: float, cursor: bool) -> int:
    counts = [0] * threads

    def run(slot: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        deadline = time.perf_counter() + seconds
        page = slot
        after = None
        while time.perf_counter() < deadline:
            params = {"after": after} if after else {"page": page % 50 + 1}
            response = session.get(f"{url}/contacts", params=params, timeout=10)
            response.raise_for_status()
            counts[slot] += 1
            page += 1
            if cursor:
                after = response.json()["meta"]["next"]

    workers = [threading.Thread(target=run, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--events-per-second", type=float, default=0.0)
    parser.add_argument("--cursor", action="store_true", help="walk by cursor instead of page numbers")
    parser.add_argument("--cursor-semantics", choices=("keyset", "snapshot"), default="keyset")
    args = parser.parse_args()

    started = time.perf_counter()
    sandbox = CallbellSandbox(
        contacts=args.contacts,
        rate_limit=None,
        page_cap=None,
        events_per_second=args.events_per_second,
        cursor_semantics=args.cursor_semantics,
    )
    generated = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generated {args.contacts:,} contacts in {generated:.1f} s, peak RSS {peak_mib:,.0f} MiB")

    with sandbox, multiprocessing.get_context("spawn").Pool(args.processes) as pool:
        jobs = [(sandbox.url, sandbox.token, args.threads, args.seconds, args.cursor)] * args.processes
        total = sum(pool.starmap(_client_threads, jobs))
        stats = sandbox.stats
        events = len(sandbox.events())
    print(
        f"{total:,} requests in {args.seconds:.0f} s: {total / args.seconds:,.0f} requests/s "
        f"({args.processes} processes x {args.threads} threads; "
        f"busiest second {stats.max_requests_per_second:,}; statuses {dict(stats.by_status)}; "
        f"{events:,} events)"
    )


if __name__ == "__main__":
    main()
