"""Upsert an exported account in which 10% of the contacts changed, side by side with a naive loop.

The issue's target: upserting 10,000 contacts of which 10% change, at about 50 ms a request,
against a naive loop that PATCHes every row: requests sent and wall time. Target: at least 5x
faster, and requests about one read walk plus the changes.

Variants, each run in a fresh subprocess against a fresh ``CallbellSandbox`` (same seed, so the
same account) served from this (parent) process:

* ``callbell``: ``CallbellUpsertContactsOperator(contacts=rows)`` with its defaults, ``.execute({})``.
* ``naive``: one ``requests.Session``, ``PATCH /contacts/{uuid}`` with the row's writable fields,
  for every row, one after the other; a 429 waits as ``Retry-After`` says.
* ``naive-threads``: the same PATCH of every row, 8 at once (a session per thread).

Usage::

    .venv/bin/python benchmarks/upsert_contacts.py            # full run, writes RESULTS-upsert.md
    .venv/bin/python benchmarks/upsert_contacts.py --quick    # smoke run, prints only

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import logging
import math
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from export_contacts import (
    CLOCK_TICKS,
    CodeVersion,
    CpuSnapshot,
    child_env,
    command_line,
    machine,
    table,
    version_line,
    watch_child,
)

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox import CallbellSandbox

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ROOT / "benchmarks" / "RESULTS-upsert.md"

SEED = 1
PAGE_SIZE = 20  # the sandbox's default, as Callbell's
SERVER_RATE_LIMIT = 300
HOT_TAG = "hot"
SCORE_FIELD = "lead_score"
NAIVE_THREADS = 8
# The operator's defaults, for the duration estimates only (the child uses the real ones).
OPERATOR_CONCURRENCY = 8
OPERATOR_RPS = 200
REQUEST_OVERHEAD = 0.003  # seconds a client spends per request besides latency
TOKEN_ENV = "CALLBELL_API_TOKEN"  # where the child finds the API token
CONN_ID = "callbell_default"
WATCH_INTERVAL = 0.05  # how often the parent looks at the sandbox while a child runs
NOISY_CORES = 0.25  # other processes using more CPU than this during a run make it suspect
KINDS = ("callbell", "naive", "naive-threads")
SANDBOX_LOGGER = "airflow_provider_callbell.sandbox"
# What the sandbox logs (at DEBUG) for every response it sends: "PATCH /v1/contacts/abc -> 200".
RESPONSE_LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>\S+) -> (?P<status>\d{3})$")


# --------------------------------------------------------------------------------------------
# What is measured
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    contacts: int
    changed: int
    latency: float
    variants: list[Variant]
    workdir: Path

    @property
    def pages(self) -> int:
        return math.ceil(self.contacts / PAGE_SIZE)

    @property
    def label(self) -> str:
        return (
            f"{self.contacts:,} contacts, {self.changed:,} of them changed, "
            f"{self.latency * 1000:.0f} ms a request"
        )


@dataclass(frozen=True)
class Variant:
    name: str
    reps: int

    def estimate_seconds(self, plan: Plan) -> float:
        """A rough duration from latency and rate limits only, to set the child's time limit."""
        per_request = plan.latency + REQUEST_OVERHEAD
        if self.name == "naive":
            return plan.contacts * max(per_request, 1 / SERVER_RATE_LIMIT)
        if self.name == "naive-threads":
            return plan.contacts * max(per_request / NAIVE_THREADS, 1 / SERVER_RATE_LIMIT)
        at_once = max(per_request / OPERATOR_CONCURRENCY, 1 / OPERATOR_RPS)
        # the walk, then a read and a PATCH for every changed row
        return (plan.pages + 1 + 2 * plan.changed) * at_once


@dataclass(frozen=True)
class Measurement:
    """What the child measured around the upsert."""

    started_at: float  # time.time() when the upsert began, to place the sandbox's log in the run
    wall_s: float
    cpu_s: float
    result: dict[str, Any]


@dataclass(frozen=True)
class Routes:
    """What the sandbox answered during a run, from its response log: counts and times."""

    list_pages: int = 0  # GET /contacts (the walk, and the operator's look at the page count)
    contact_reads: int = 0  # GET /contacts/{uuid}
    patches: int = 0
    others: int = 0
    last_page_at: float | None = None
    first_patch_at: float | None = None
    last_patch_at: float | None = None


@dataclass(frozen=True)
class Check:
    """The account after a run against the rows' intent."""

    changed_right: int
    changed_wrong: int
    unchanged_right: int
    unchanged_wrong: int
    missing: int
    extra: int
    example: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.changed_wrong or self.unchanged_wrong or self.missing or self.extra)

    def describe(self) -> str:
        if self.ok:
            return f"OK ({self.changed_right:,} changed, {self.unchanged_right:,} unchanged)"
        return (
            f"FAIL: {self.changed_wrong:,} changed rows wrong, {self.unchanged_wrong:,} unchanged rows "
            f"altered, {self.missing:,} contacts missing, {self.extra:,} unexpected"
            + (f"; e.g. {self.example}" if self.example else "")
        )


@dataclass(frozen=True)
class Run:
    variant: str
    rep: int
    measurement: Measurement | None
    total_requests: int
    by_method: dict[str, int]
    by_status: dict[int, int]
    rate_limited: int
    max_rps: int
    routes: Routes
    other_cores: float
    check: Check | None
    error: str | None = None

    @property
    def walk_s(self) -> float | None:
        """From the start of the upsert to the last page of contacts answered."""
        if self.measurement is None or self.routes.last_page_at is None:
            return None
        return self.routes.last_page_at - self.measurement.started_at

    @property
    def writes_s(self) -> float | None:
        """From the first PATCH answered to the last."""
        first, last = self.routes.first_patch_at, self.routes.last_patch_at
        return None if first is None or last is None else last - first

    def in_flight(self, latency: float) -> float | None:
        """Requests under way on average while the writes ran (each holds the sandbox ``latency``)."""
        writes = self.writes_s
        if not writes:
            return None
        return (self.routes.contact_reads + self.routes.patches) * latency / writes

    @property
    def until_first_patch_s(self) -> float | None:
        if self.measurement is None or self.routes.first_patch_at is None:
            return None
        return self.routes.first_patch_at - self.measurement.started_at

    @property
    def failed(self) -> bool:
        return self.error is not None or self.check is None or not self.check.ok


@dataclass
class Summary:
    variant: Variant
    runs: list[Run] = field(default_factory=list)

    @property
    def ok(self) -> list[Run]:
        return [run for run in self.runs if run.measurement is not None]

    def median(self, value: Callable[[Run], float | None]) -> float | None:
        values = [v for v in (value(run) for run in self.ok) if v is not None]
        return statistics.median(values) if values else None

    @property
    def wall(self) -> float | None:
        return self.median(lambda run: run.measurement.wall_s if run.measurement else None)

    @property
    def requests(self) -> float | None:
        return self.median(lambda run: run.total_requests)

    def method(self, name: str) -> float | None:
        return self.median(lambda run: run.by_method.get(name, 0))


# --------------------------------------------------------------------------------------------
# The child: one upsert, measured
# --------------------------------------------------------------------------------------------


def child_main(args: argparse.Namespace) -> int:
    """Run one variant (or the export that makes the rows) against ``--url``."""
    connection = {"conn_type": "callbell", "host": args.url, "password": args.token}
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(connection)
    if args.run_export:
        from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator

        CallbellListContactsOperator(task_id="export_contacts", output_path=args.run_export).execute({})
        return 0
    rows = [json.loads(line) for line in Path(args.rows).read_text(encoding="utf-8").splitlines()]
    upsert = PREPARERS[args.run_variant](args, rows)
    gc.collect()
    usage_before, started_at = resource.getrusage(resource.RUSAGE_SELF), time.time()
    started = time.perf_counter()
    result = upsert()
    wall = time.perf_counter() - started
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage_after.ru_utime + usage_after.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime)
    text = json.dumps(asdict(Measurement(started_at, wall, cpu, result)))
    if args.result_file:
        Path(args.result_file).write_text(text)
    else:
        print(text)
    return 0


Upsert = Callable[[], dict[str, Any]]


def prepare_callbell(args: argparse.Namespace, rows: list[dict[str, Any]]) -> Upsert:
    """The provider's operator with its defaults, built (as at DAG parse) but not run."""
    for module in ("airflow_provider_callbell.hooks.callbell", "airflow_provider_callbell.upserts.runner"):
        importlib.import_module(module)
    from airflow.providers.common.compat.sdk import BaseHook

    from airflow_provider_callbell.operators.contacts import CallbellUpsertContactsOperator

    BaseHook.get_connection(CONN_ID)
    operator = CallbellUpsertContactsOperator(task_id="upsert_contacts", contacts=rows)

    def upsert() -> dict[str, Any]:
        result: dict[str, Any] = operator.execute({})
        return result

    return upsert


def naive_body(row: Mapping[str, Any]) -> dict[str, Any]:
    """Every writable field of an exported row, as the API names them."""
    body: dict[str, Any] = {
        "name": row["name"],
        "tags": row.get("tags") or [],
        "custom_fields": row.get("customFields") or {},
        "note": row.get("note"),
    }
    if row.get("assignedUser"):
        body["assigned_user"] = row["assignedUser"]
    else:
        body["unassign_user"] = True
    if row.get("team"):
        body["team_uuid"] = row["team"]["uuid"]
    return body


def patch_row(session: Any, url: str, row: Mapping[str, Any]) -> int:
    """PATCH one row; on 429 wait as ``Retry-After`` says and send it again. Returns the 429s."""
    refused = 0
    while True:
        response = session.patch(f"{url}/contacts/{row['uuid']}", json=naive_body(row), timeout=30)
        if response.status_code != 429:
            response.raise_for_status()
            return refused
        refused += 1
        time.sleep(float(response.headers.get("Retry-After") or 1))


def _session(token: str) -> Any:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def prepare_naive(args: argparse.Namespace, rows: list[dict[str, Any]]) -> Upsert:
    """A plain loop: one session, a PATCH for every row, one after the other."""
    importlib.import_module("requests")

    def upsert() -> dict[str, Any]:
        refused = 0
        with _session(args.token) as session:
            for row in rows:
                refused += patch_row(session, args.url, row)
        return {"patched": len(rows), "client_429s": refused}

    return upsert


def prepare_naive_threads(args: argparse.Namespace, rows: list[dict[str, Any]]) -> Upsert:
    """The same PATCH of every row, ``NAIVE_THREADS`` at once, a session per thread."""
    importlib.import_module("requests")

    def upsert() -> dict[str, Any]:
        local = threading.local()
        sessions = []

        def patch(row: dict[str, Any]) -> int:
            if not hasattr(local, "session"):
                local.session = _session(args.token)
                sessions.append(local.session)
            return patch_row(local.session, args.url, row)

        with ThreadPoolExecutor(NAIVE_THREADS) as pool:
            refused = sum(pool.map(patch, rows))
        for session in sessions:
            session.close()
        return {"patched": len(rows), "client_429s": refused}

    return upsert


PREPARERS: dict[str, Callable[[argparse.Namespace, list[dict[str, Any]]], Upsert]] = {
    "callbell": prepare_callbell,
    "naive": prepare_naive,
    "naive-threads": prepare_naive_threads,
}


# --------------------------------------------------------------------------------------------
# The parent: the rows, a fresh sandbox per run, the checks
# --------------------------------------------------------------------------------------------


def new_sandbox(plan: Plan) -> CallbellSandbox:
    from airflow_provider_callbell.sandbox import CallbellSandbox

    return CallbellSandbox(
        contacts=plan.contacts,
        seed=SEED,
        latency=plan.latency,
        rate_limit=SERVER_RATE_LIMIT,
        page_size=PAGE_SIZE,
        pagination="cursor",
        port=0,
    )


def comparable(contact: Mapping[str, Any]) -> dict[str, Any]:
    """A contact with its null fields dropped: a missing ``note`` and ``"note": null`` are alike."""
    return {key: value for key, value in contact.items() if value is not None}


@dataclass(frozen=True)
class Rows:
    """The rows file, what each contact should be after an upsert, and the changed uuids."""

    path: Path
    expected: dict[str, dict[str, Any]]
    changed: frozenset[str]


def make_rows(plan: Plan) -> Rows:
    """Export the account (a child runs CallbellListContactsOperator), change 10% of the rows."""
    export, rows_path = plan.workdir / "export.jsonl", plan.workdir / "rows.jsonl"
    with new_sandbox(plan) as sandbox:
        error = run_child(["--run-export", str(export)], plan, sandbox, timeout=600, log_name="export")
        if error:
            raise SystemExit(f"FAILED to export the rows: {error}")
        rows = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
        account = {contact["uuid"]: comparable(contact) for contact in sandbox.contacts()}
    if {row["uuid"]: comparable(row) for row in rows} != account or len(rows) != plan.contacts:
        raise SystemExit("FAILED: the export does not hold the account's contacts as the sandbox has them")
    candidates = [n for n, row in enumerate(rows) if HOT_TAG not in {t.lower() for t in row["tags"]}]
    if len(candidates) < plan.changed:
        raise SystemExit(f"FAILED: only {len(candidates):,} contacts lack the tag {HOT_TAG!r}")
    picked = random.Random(SEED).sample(candidates, plan.changed)
    for number in picked:
        row = rows[number]
        row["tags"] = [*row["tags"], HOT_TAG]
        row["customFields"] = {**(row.get("customFields") or {}), SCORE_FIELD: str(50 + number % 50)}
    with rows_path.open("w", encoding="utf-8") as file:
        file.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    expected = {row["uuid"]: comparable(row) for row in rows}
    return Rows(rows_path, expected, frozenset(rows[number]["uuid"] for number in picked))


def check(sandbox: CallbellSandbox, rows: Rows) -> Check:
    """Whether the account is what the rows meant: the changed ones changed, the others as exported."""
    expected, changed = rows.expected, rows.changed
    actual = {contact["uuid"]: comparable(contact) for contact in sandbox.contacts()}
    right, wrong = Counter[bool](), Counter[bool]()
    example = None
    for uuid, want in expected.items():
        have = actual.get(uuid)
        if have is None:
            continue
        if have == want:
            right[uuid in changed] += 1
        else:
            wrong[uuid in changed] += 1
            if example is None:
                fields = sorted(key for key in want.keys() | have.keys() if want.get(key) != have.get(key))
                example = f"contact {uuid} differs in {', '.join(fields)}"
    return Check(
        changed_right=right[True],
        changed_wrong=wrong[True],
        unchanged_right=right[False],
        unchanged_wrong=wrong[False],
        missing=len(expected.keys() - actual.keys()),
        extra=len(actual.keys() - expected.keys()),
        example=example,
    )


class ResponseLog(logging.Handler):
    """Counts the sandbox's responses by route and notes when the walk and the writes happened."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = RESPONSE_LINE.match(record.getMessage())
        if match is None:
            return
        route = _route(match["method"], match["path"])
        self.counts[route] += 1
        if route in ("list", "PATCH"):
            self.times.setdefault(route, []).append(record.created)

    def routes(self) -> Routes:
        pages, patches = self.times.get("list", []), self.times.get("PATCH", [])
        known = ("list", "read", "PATCH")
        return Routes(
            list_pages=self.counts["list"],
            contact_reads=self.counts["read"],
            patches=self.counts["PATCH"],
            others=sum(count for route, count in self.counts.items() if route not in known),
            last_page_at=max(pages, default=None),
            first_patch_at=min(patches, default=None),
            last_patch_at=max(patches, default=None),
        )


def _route(method: str, path: str) -> str:
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts[-1] == "contacts" and method == "GET":
        return "list"
    if len(parts) >= 2 and parts[-2] == "contacts":
        return "read" if method == "GET" else method
    return "other"


@contextmanager
def response_log() -> Iterator[ResponseLog]:
    logger, handler = logging.getLogger(SANDBOX_LOGGER), ResponseLog()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def spawn(plan: Plan, variant: Variant, rep: int, rows: Rows, load: OtherLoad) -> Run:
    """Run ``variant`` once on a fresh sandbox, in a fresh interpreter; check the account after."""
    result = plan.workdir / f"{variant.name}-{rep}.result.json"
    options = ["--run-variant", variant.name, "--rows", str(rows.path), "--result-file", str(result)]
    timeout = max(300.0, 4 * variant.estimate_seconds(plan) + 120)
    with new_sandbox(plan) as sandbox, response_log() as log:
        sandbox.reset_stats()
        before = CpuSnapshot.take()
        with load.during():
            error = run_child(options, plan, sandbox, timeout, f"{variant.name}-{rep}")
        other_cores = CpuSnapshot.take().other_cores_since(before)
        stats = sandbox.stats
        measurement = Measurement(**json.loads(result.read_text())) if error is None else None
        outcome = check(sandbox, rows) if error is None else None
    return Run(
        variant=variant.name,
        rep=rep,
        measurement=measurement,
        total_requests=stats.total_requests,
        by_method=dict(stats.by_method),
        by_status=dict(stats.by_status),
        rate_limited=stats.rate_limited,
        max_rps=stats.max_requests_per_second,
        routes=log.routes(),
        other_cores=other_cores,
        check=outcome,
        error=error,
    )


def run_child(
    options: list[str], plan: Plan, sandbox: CallbellSandbox, timeout: float, log_name: str
) -> str | None:
    """Run this script with ``options`` against ``sandbox``; why it failed, or ``None``."""
    log = plan.workdir / f"{log_name}.log"
    command = [sys.executable, str(Path(__file__).resolve()), *options, "--url", sandbox.url]
    # The token goes through the environment: on the command line, ps would show it.
    env = {**child_env(plan.workdir), TOKEN_ENV: sandbox.token}
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
        error = watch_child(process, sandbox, timeout, WATCH_INTERVAL)
    if error is None:
        return None
    lines = log.read_text(errors="replace").strip().splitlines()
    return f"{error} (log: {log}): ...{lines[-1][-300:] if lines else ''}"


def progress_line(run: Run, reps: int) -> str:
    head = f"   rep {run.rep + 1}/{reps} {run.variant:<14}"
    m = run.measurement
    if m is None:
        return f"{head} FAILED: {run.error}"
    walk = f"  walk {run.walk_s:6.2f} s" if run.walk_s is not None else ""
    return (
        f"{head} wall {m.wall_s:8.2f} s{walk}  cpu {m.cpu_s:6.2f} s  requests {run.total_requests:,}"
        f" {run.by_method}  429s {run.rate_limited}  max {run.max_rps} req/s  statuses {run.by_status}"
        f"  other CPU {run.other_cores:.2f} cores  check: {run.check.describe() if run.check else 'n/a'}"
    )


def benchmark(plan: Plan, load: OtherLoad) -> list[Summary]:
    print(f"## {plan.label}: exporting the rows...", flush=True)
    started = time.perf_counter()
    rows = make_rows(plan)
    print(
        f"   {plan.contacts:,} rows, {len(rows.changed):,} changed, in {time.perf_counter() - started:.1f} s"
    )
    summaries = [Summary(variant) for variant in plan.variants]
    for summary in summaries:
        estimate = summary.variant.estimate_seconds(plan)
        print(f"   {summary.variant.name:<14} estimated {estimate:7.1f} s a run, {summary.variant.reps} runs")
    # Interleaved (ABCABC), so machine noise hits every variant alike.
    for rep in range(max(variant.reps for variant in plan.variants)):
        for summary in summaries:
            if rep < summary.variant.reps:
                run = spawn(plan, summary.variant, rep, rows, load)
                summary.runs.append(run)
                print(progress_line(run, summary.variant.reps), flush=True)
                if run.check is not None and not run.check.ok:
                    print(f"   !! {run.variant} rep {rep + 1}: {run.check.describe()}", flush=True)
    return summaries


# --------------------------------------------------------------------------------------------
# What else ran
# --------------------------------------------------------------------------------------------


def process_cpu() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU seconds so far."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        fields = text.rpartition(")")[2].split()
        found[int(stat.parent.name)] = (
            _name(int(stat.parent.name), name),
            (int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
        )
    return found


def _name(pid: int, name: str) -> str:
    """A process's name; for an interpreter, the script or module it runs (never other arguments)."""
    if not name.startswith("python"):
        return name
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return name
    for number, argument in enumerate(argv[1:], start=1):
        if argument == "-m" and number + 1 < len(argv):
            return f"{name} -m {argv[number + 1][:40]}"
        if argument and not argument.startswith("-"):
            return f"{name} {Path(argument).name[:40]}"
    return name


class OtherLoad:
    """The CPU other processes used over the benchmark, and which of them during the runs."""

    def __init__(self) -> None:
        self.start = CpuSnapshot.take()
        self.used: dict[str, float] = {}

    @contextmanager
    def during(self) -> Iterator[None]:
        """Count what the processes alive before and after the block used meanwhile (not ours)."""
        before = process_cpu()
        yield
        after, ours = process_cpu(), os.getpid()
        for pid, (name, cpu) in after.items():
            if pid != ours and pid in before:
                self.used[name] = self.used.get(name, 0.0) + cpu - before[pid][1]

    def describe(self) -> str:
        now = CpuSnapshot.take()
        cores = now.other_cores_since(self.start)
        ranked = sorted(self.used.items(), key=lambda item: item[1], reverse=True)[:6]
        busiest = ", ".join(f"`{name}` {cpu:,.0f} s" for name, cpu in ranked if cpu >= 1) or "none above 1 s"
        return (
            f"other processes used {cores:.2f} cores on average over the whole benchmark "
            f"({cores * (now.at - self.start.at):,.0f} CPU seconds, hypervisor steal included); "
            f"of the processes that outlived a run, the busiest during the runs: {busiest}"
        )


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or not bottom else top / bottom


def find(summaries: list[Summary], name: str) -> Summary | None:
    return next((summary for summary in summaries if summary.variant.name == name), None)


HEADER = (
    "Variant",
    "Runs",
    "Wall s",
    "Walk s",
    "Writes s",
    "Writes in flight",
    "CPU s",
    "Requests",
    "GET",
    "PATCH",
    "POST",
    "DELETE",
    "GET /contacts",
    "GET /contacts/{uuid}",
    "429s (all runs)",
    "Max req/s",
    "Other CPU, cores",
    "Check",
)


def main_row(summary: Summary, plan: Plan) -> list[str]:
    if not summary.ok:
        return [summary.variant.name, "0", "FAILED (see notes)", *["n/a"] * (len(HEADER) - 3)]
    failed = [run for run in summary.runs if run.failed]
    checks = "OK" if not failed else f"**FAIL** ({len(failed)} of {len(summary.runs)} runs)"

    return [
        summary.variant.name,
        str(len(summary.ok)),
        _num(summary.wall, 2),
        _num(summary.median(lambda run: run.walk_s), 2) if summary.variant.name == "callbell" else "-",
        _num(summary.median(lambda run: run.writes_s), 2),
        _num(summary.median(lambda run: run.in_flight(plan.latency)), 1),
        _num(summary.median(lambda run: run.measurement.cpu_s if run.measurement else None), 2),
        _num(summary.requests, 0),
        *(_num(summary.method(method), 0) for method in ("GET", "PATCH", "POST", "DELETE")),
        _num(summary.median(lambda run: run.routes.list_pages), 0),
        _num(summary.median(lambda run: run.routes.contact_reads), 0),
        str(sum(run.rate_limited for run in summary.runs)),
        str(max(run.max_rps for run in summary.runs)),
        _num(summary.median(lambda run: run.other_cores), 2),
        checks,
    ]


def ratio_rows(summaries: list[Summary]) -> list[list[str]]:
    rows = []
    for top, bottom in (("naive", "callbell"), ("naive-threads", "callbell"), ("naive", "naive-threads")):
        high, low = find(summaries, top), find(summaries, bottom)
        if high is None or low is None:
            continue
        wall = _ratio(high.wall, low.wall)
        requests = _ratio(high.requests, low.requests)
        rows.append([f"{top} / {bottom}", _num(wall, 2) + "x", _num(requests, 2) + "x"])
    return rows


def verdicts(summaries: list[Summary], plan: Plan) -> list[str]:
    operator, naive = find(summaries, "callbell"), find(summaries, "naive")
    if operator is None or not operator.ok:
        return ["- Not measured: the operator did not run."]
    lines = []
    ratio = _ratio(naive.wall if naive else None, operator.wall)
    if ratio is None:
        lines.append("- At least 5x faster than the naive loop: not measured (the naive loop did not run).")
    else:
        word = "**met**" if ratio >= 5 else "**missed**"
        lines.append(
            f"- At least 5x faster than the naive loop: {word}: {_num(naive.wall if naive else None, 1)} s "
            f"against {_num(operator.wall, 2)} s, {ratio:.1f}x."
        )
    requests = operator.requests or 0
    target = plan.pages + plan.changed
    pages = operator.median(lambda run: run.routes.list_pages) or 0
    reads = operator.median(lambda run: run.routes.contact_reads) or 0
    patches = operator.method("PATCH") or 0
    word = "**met**" if requests <= 1.1 * target else "**missed as worded**"
    line = (
        f"- Requests about one read walk plus the changes: {word}: {requests:,.0f} requests against "
        f"{target:,} = {plan.pages:,} pages (ceil({plan.contacts:,} / {PAGE_SIZE})) + {plan.changed:,} "
        f"changes ({requests / target:.2f}x). They are {pages:,.0f} reads of the contact list (the walk's "
        f"{plan.pages:,} pages, {pages - plan.pages:+,.0f}: the look at the page count before "
        f"choosing to walk, and the walk's checks of its stretches and looks at the top of the list), "
        f"{reads:,.0f} reads of single contacts and {patches:,.0f} PATCHes ({plan.changed:,} expected)."
    )
    if reads:
        line += (
            f" The single reads are the operator reading a contact again right before a PATCH that "
            f"changes its tags (every changed row here adds a tag): counting them, the expectation is "
            f"{target + plan.changed:,}, measured {requests / (target + plan.changed):.2f}x that."
        )
    return [*lines, line]


def time_split(summaries: list[Summary], plan: Plan) -> list[str]:
    operator = find(summaries, "callbell")
    if operator is None or not operator.ok:
        return []
    walk = operator.median(lambda run: run.walk_s)
    first = operator.median(lambda run: run.until_first_patch_s)
    in_flight = operator.median(lambda run: run.in_flight(plan.latency))
    writes = operator.median(lambda run: run.routes.contact_reads + run.routes.patches)
    wall = operator.wall
    if walk is None or wall is None or writes is None:
        return []
    floor = writes * (plan.latency + REQUEST_OVERHEAD) / OPERATOR_CONCURRENCY
    line = (
        f"- Where the operator's time goes (medians): {walk:.2f} s until the last page of the walk "
        f"(the look at the page count, then {plan.pages:,} pages, {OPERATOR_CONCURRENCY} at once), "
        f"first PATCH after {_num(first, 2)} s, then {wall - walk:.2f} s of single reads and PATCHes "
        f"({writes:,.0f} requests) with {_num(in_flight, 1)} under way on average, for the "
        f"{OPERATOR_CONCURRENCY} rows the operator works on at once: {OPERATOR_CONCURRENCY} at once, "
        f"they would need about {floor:.1f} s. The rows that change nothing send no request."
    )
    if in_flight is not None and in_flight < 0.75 * OPERATOR_CONCURRENCY:
        line += (
            " Fewer requests are under way than rows worked on at once: rows are started in row order "
            "a bounded window ahead of the oldest one not yet reported (`batches.in_order`), and the "
            "unchanged rows, settled without a request, take places in that window too."
        )
    return [line]


def notes(summaries: list[Summary]) -> list[str]:
    lines = []
    for summary in summaries:
        for run in summary.runs:
            who = f"{run.variant} rep {run.rep + 1}"
            if run.error:
                lines.append(f"- {who}: FAILED: {run.error}")
            if run.check is not None and not run.check.ok:
                lines.append(f"- {who}: the account is wrong after the run: {run.check.describe()}")
            if run.other_cores > NOISY_CORES:
                lines.append(
                    f"- {who}: other processes used {run.other_cores:.2f} cores during the run: its "
                    "figures may be inflated."
                )
            odd = {status: count for status, count in run.by_status.items() if status != 200}
            if odd:
                lines.append(f"- {who}: non-200 answers: {odd}.")
            logged = run.routes.list_pages + run.routes.contact_reads + run.routes.patches + run.routes.others
            if logged != sum(run.by_status.values()):
                lines.append(
                    f"- {who}: the sandbox's response log counted {logged:,} answers, its statistics "
                    f"{sum(run.by_status.values()):,}: the route split is approximate."
                )
    return lines


RESULTS_INTRO = """# Benchmark results: upserting an exported account in which 10% changed

Generated by `benchmarks/upsert_contacts.py`; see `benchmarks/README.md` for what each column
means. Each run starts on a fresh sandbox (same seed, so the same account) and is checked after:
the changed contacts carry the tag and the custom field, the others are as exported.

"""


def report(summaries: list[Summary], plan: Plan, elapsed: float, version: str, others: str) -> str:
    parts = [
        "## Machine",
        "\n".join(machine()),
        f"- nproc: {len(os.sched_getaffinity(0))}",
        version,
        f"- Also running: {others}. The Other CPU column is the cores they used during each run.",
        f"\nCommand (from the repository root): `{command_line()}`; took {elapsed / 60:.1f} min.",
        f"\n## Results: {plan.label} (medians over the runs)",
        table(HEADER, (main_row(summary, plan) for summary in summaries), left=1),
        "\nWalk s: from the start of the upsert to the last page of the contact list answered. "
        "Writes s: from the first PATCH to the last. Writes in flight: the requests under way on "
        "average during the writes (re-reads and PATCHes times the latency, over Writes s). "
        "GET /contacts and GET /contacts/{uuid} split the GETs by what they read, from the sandbox's "
        "response log.",
        "\n## Ratios (higher means the second does better)",
        table(("Ratio", "Wall time", "Requests"), ratio_rows(summaries), left=1),
        "\n## Targets",
        "\n".join(verdicts(summaries, plan) + time_split(summaries, plan)),
        "\n## Notes",
        "\n".join(notes(summaries)) or "- None: every run answered 200 only and left the account right.",
    ]
    return "\n".join(parts) + "\n"


def raw_runs(summaries: list[Summary]) -> str:
    lines = [json.dumps(asdict(run), default=str) for summary in summaries for run in summary.runs]
    return (
        "<details><summary>Raw runs (JSON, one per line)</summary>\n\n```\n"
        + "\n".join(lines)
        + "\n```\n</details>\n"
    )


def build_plan(args: argparse.Namespace, workdir: Path) -> Plan:
    contacts = args.contacts or (1_000 if args.quick else 10_000)
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    reps_for = {"callbell": reps, "naive": args.reps_naive, "naive-threads": args.reps_threads or reps}
    names = args.variants.split(",")
    unknown = set(names) - set(KINDS)
    if unknown or "callbell" not in names:
        raise SystemExit(f"--variants: callbell and any of {', '.join(KINDS[1:])}, got {args.variants!r}")
    return Plan(
        contacts=contacts,
        changed=round(contacts * args.changed),
        latency=args.latency,
        variants=[Variant(name, reps_for[name]) for name in KINDS if name in names],
        workdir=workdir,
    )


def parent_main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="callbell-upsert-bench-"))
    plan = build_plan(args, workdir)
    started, version, load = time.perf_counter(), CodeVersion.now(), OtherLoad()
    summaries = benchmark(plan, load)
    elapsed = time.perf_counter() - started
    others = load.describe()
    text = report(summaries, plan, elapsed, version_line(version, CodeVersion.now()), others)
    print("\n" + text)
    results = None if args.results == "none" else Path(args.results) if args.results else None
    if results is None and not args.quick and args.results != "none":
        results = DEFAULT_RESULTS
    if results is not None:
        results.write_text(RESULTS_INTRO + text + "\n" + raw_runs(summaries))
        print(f"Wrote {results}")
    failed = any(run.failed for summary in summaries for run in summary.runs)
    if failed:
        print(f"Some runs FAILED; their logs are in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare CallbellUpsertContactsOperator with a naive PATCH-every-row loop, upserting "
        "an exported sandbox account in which 10% of the contacts changed.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1,000 contacts, 1 rep each, prints only"
    )
    parser.add_argument(
        "--contacts", type=int, default=None, help="account size (default 10,000; quick 1,000)"
    )
    parser.add_argument("--changed", type=float, default=0.10, help="share of rows changed (default 0.10)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds a request (default 0.05)")
    parser.add_argument(
        "--variants",
        default=",".join(KINDS),
        help=f"callbell and any of the baselines (default {','.join(KINDS)})",
    )
    parser.add_argument("--reps", type=int, default=None, help="runs of callbell (default 3; quick 1)")
    parser.add_argument("--reps-naive", type=int, default=1, help="runs of the naive loop (default 1)")
    parser.add_argument(
        "--reps-threads", type=int, default=None, help="runs of naive-threads (default: --reps)"
    )
    parser.add_argument(
        "--results",
        default=None,
        help="Markdown output (default benchmarks/RESULTS-upsert.md; none with --quick)",
    )
    child = parser.add_argument_group(
        "one run, as the benchmark runs it in a subprocess", f"The API token comes from ${TOKEN_ENV}."
    )
    child.add_argument("--run-variant", choices=KINDS, help="upsert --rows once and print the figures (JSON)")
    child.add_argument("--run-export", metavar="PATH", help="export the account to this JSONL file")
    child.add_argument("--url", help="API base URL, e.g. http://127.0.0.1:8765/v1")
    child.add_argument("--rows", help="JSONL file of the rows to upsert")
    child.add_argument("--result-file", help="write the figures here (JSON) instead of stdout")
    parser.set_defaults(token=os.environ.get(TOKEN_ENV))
    args = parser.parse_args(argv)
    if args.run_variant and not all((args.url, args.token, args.rows)):
        parser.error(f"--run-variant needs --url, --rows and the API token in ${TOKEN_ENV}")
    if args.run_export and not (args.url and args.token):
        parser.error(f"--run-export needs --url and the API token in ${TOKEN_ENV}")
    if not 0 < args.changed <= 1:
        parser.error("--changed must be above 0 and at most 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return child_main(args) if args.run_variant or args.run_export else parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
