"""Export every contact of a Callbell account to JSON Lines, three ways, side by side.

Variants, each run in a fresh subprocess against a local ``CallbellSandbox`` served from this
(parent) process:

* ``callbell``: ``CallbellListContactsOperator(output_path=...)`` with its defaults.
* ``callbell@<N>rps``: the same with the connection extra ``max_requests_per_second=N``.
* ``http``: ``HttpOperator`` with a ``pagination_function`` following ``meta.next``, a
  ``response_filter`` gathering every page's contacts, then a JSONL write, as a downstream task
  would do it.
* ``requests``: a plain sequential ``requests.Session`` loop following ``meta.next``.

Usage::

    .venv/bin/python benchmarks/export_contacts.py            # full run, writes RESULTS.md
    .venv/bin/python benchmarks/export_contacts.py --quick    # smoke run, prints only

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import importlib
import json
import math
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ROOT / "benchmarks" / "RESULTS.md"

SEED = 1
LIVE_EVENTS_PER_SECOND = 20.0  # a busy team inbox
PAGE_SIZE = 20
PAGE_CAP = 500
SERVER_RATE_LIMIT = 300
# The operator's defaults, for the duration estimates only (the child uses the real ones).
OPERATOR_RPS = 200
OPERATOR_CONCURRENCY = 16
REQUEST_OVERHEAD = 0.003  # seconds a sequential client spends per request besides latency
TOKEN_ENV = "CALLBELL_API_TOKEN"  # where --run-variant finds the API token
SETTLE_SECONDS = 1.1  # lets the sandbox's sliding 1-second rate window empty between runs
WATCH_INTERVAL = 0.5  # how often the parent checks that a child makes progress
STALL_SECONDS = 60.0  # a child with no request and under STALL_CPU_S of CPU for this long is stuck
STALL_CPU_S = 1.0
DRAIN_TIMEOUT = 600.0  # longest wait for the sandbox's connection threads to end after a run
NOISY_CORES = 0.25  # other processes using more CPU than this during a run make it suspect
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HTTP_CONN_ID = "callbell_http"
CALLBELL_CONN_ID = "callbell_default"
KINDS = ("callbell", "http", "requests")
PROVIDER = "airflow_provider_callbell"
MB = 1024 * 1024

Export = Callable[[], int]


# --------------------------------------------------------------------------------------------
# What is measured
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One sandbox account: its size and how slowly it answers."""

    key: str
    contacts: int
    latency: float
    reps: int
    events_per_second: float = 0.0
    cursor_semantics: str = "keyset"

    @property
    def live(self) -> bool:
        return self.events_per_second > 0

    @property
    def label(self) -> str:
        label = f"{self.key}: {self.contacts:,} contacts, {self.latency * 1000:.0f} ms"
        if self.live:
            label += f", {self.events_per_second:g} events/s, {self.cursor_semantics} cursors"
        return label

    @property
    def pages(self) -> int:
        return math.ceil(self.contacts / PAGE_SIZE)


@dataclass(frozen=True)
class Variant:
    """One way of exporting, with the options the child process gets."""

    name: str
    kind: str
    concurrency: int | None = None
    max_rps: float | None = None

    def child_options(self) -> list[str]:
        options = ["--run-variant", self.kind]
        if self.concurrency is not None:
            options += ["--concurrency", str(self.concurrency)]
        if self.max_rps is not None:
            options += ["--max-rps", str(self.max_rps)]
        return options

    def estimate_seconds(self, scenario: Scenario) -> float:
        """A rough duration, from latency and rate limits only, to skip hopeless runs loudly."""
        per_request = scenario.latency + REQUEST_OVERHEAD
        if self.kind != "callbell":
            return scenario.pages * max(per_request, 1 / SERVER_RATE_LIMIT)
        floor = 1 / min(self.max_rps or OPERATOR_RPS, SERVER_RATE_LIMIT)
        numbered = min(scenario.pages, PAGE_CAP)
        concurrency = self.concurrency or OPERATOR_CONCURRENCY
        by_cursor = scenario.pages - numbered
        return numbered * max(per_request / concurrency, floor) + by_cursor * max(per_request, floor)


@dataclass(frozen=True)
class Measurement:
    """What the child process measured around the export."""

    contacts: int
    wall_s: float
    cpu_s: float
    rss_before_mb: float
    peak_rss_mb: float
    ru_maxrss_mb: float
    peak_reset: bool


@dataclass(frozen=True)
class Run:
    """One child run and what the sandbox saw of it."""

    scenario: str
    variant: str
    rep: int
    measurement: Measurement | None
    total_requests: int
    by_status: dict[int, int]
    rate_limited: int
    max_rps: int
    other_cores: float
    drain_s: float
    error: str | None = None
    missed: int | None = None
    duplicated: int | None = None
    unexpected: int | None = None

    @property
    def other_errors(self) -> int:
        return sum(count for status, count in self.by_status.items() if status not in (200, 429))


@dataclass
class Summary:
    """The runs of one variant in one scenario."""

    scenario: Scenario
    variant: Variant
    runs: list[Run] = field(default_factory=list)
    skipped: str | None = None
    warning: str | None = None

    @property
    def ok(self) -> list[Measurement]:
        return [run.measurement for run in self.runs if run.measurement is not None]

    def median(self, name: str) -> float | None:
        values = [getattr(measurement, name) for measurement in self.ok]
        return statistics.median(values) if values else None

    @property
    def cpu_us_per_contact(self) -> float | None:
        cpu = self.median("cpu_s")
        return None if cpu is None else cpu / self.scenario.contacts * 1e6

    @property
    def peak_delta_mb(self) -> float | None:
        deltas = [m.peak_rss_mb - m.rss_before_mb for m in self.ok]
        return statistics.median(deltas) if deltas else None

    @property
    def other_cores(self) -> float | None:
        values = [run.other_cores for run in self.runs]
        return statistics.median(values) if values else None

    @property
    def failures(self) -> list[Run]:
        return [run for run in self.runs if run.error is not None]


# --------------------------------------------------------------------------------------------
# The child: one export, measured
# --------------------------------------------------------------------------------------------


def child_main(args: argparse.Namespace) -> int:
    """Run one variant against ``--url``; write its measurement as JSON."""
    _set_connections(args)
    export = PREPARERS[args.run_variant](args)
    measurement = measure(export)
    problem = _count_problem(measurement.contacts, Path(args.out), args.expected)
    if problem:
        print(f"FAILED: {args.run_variant}: {problem}", file=sys.stderr)
        return 3
    text = json.dumps(asdict(measurement))
    if args.result_file:
        Path(args.result_file).write_text(text)
    else:
        print(text)
    return 0


def _set_connections(args: argparse.Namespace) -> None:
    extra = {} if args.max_rps is None else {"max_requests_per_second": args.max_rps}
    callbell = {"conn_type": "callbell", "host": args.url, "password": args.token, "extra": extra}
    http = {"conn_type": "http", "host": args.url, "extra": {"Authorization": f"Bearer {args.token}"}}
    os.environ[f"AIRFLOW_CONN_{CALLBELL_CONN_ID.upper()}"] = json.dumps(callbell)
    os.environ[f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}"] = json.dumps(http)


def _warm(*modules: str) -> None:
    """Import what the export imports lazily, so imports stay out of the measurement."""
    for module in modules:
        importlib.import_module(module)


def prepare_callbell(args: argparse.Namespace) -> Export:
    """The provider's operator, built (as at DAG parse) but not run."""
    _warm(
        "airflow_provider_callbell.hooks.callbell",
        "airflow_provider_callbell.exports.atomic",
        "airflow_provider_callbell.exports.formats",
        "airflow.sdk.io.path",
    )
    from airflow.providers.common.compat.sdk import BaseHook

    from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator

    BaseHook.get_connection(CALLBELL_CONN_ID)
    options = {} if args.concurrency is None else {"concurrency": args.concurrency}
    operator = CallbellListContactsOperator(task_id="export_contacts", output_path=args.out, **options)
    return lambda: int(operator.execute({})["count"])


def _next_page(response: Any) -> dict[str, Any] | None:
    cursor = response.json()["meta"]["next"]
    return {"data": {"after": cursor}} if cursor else None


def _all_contacts(responses: list[Any]) -> list[dict[str, Any]]:
    return [contact for response in responses for contact in response.json()["contacts"]]


def _is_rate_limited(error: BaseException) -> bool:
    # HttpHook.check_response raises AirflowException("429:Too Many Requests").
    return str(error).startswith("429")


def http_retry_args() -> dict[str, Any]:
    """What a user adds once the first 429 has failed their task: wait 1 s (Retry-After), retry."""
    import tenacity

    return {
        "retry": tenacity.retry_if_exception(_is_rate_limited),
        "wait": tenacity.wait_fixed(1),
        "stop": tenacity.stop_after_attempt(10),
        "reraise": True,
    }


def prepare_http(args: argparse.Namespace) -> Export:
    """HttpOperator paginating by cursor; its XCom-style result then written as JSONL."""
    _warm("airflow.providers.http.hooks.http", "airflow.utils.operator_helpers", "tenacity")
    from airflow.providers.common.compat.sdk import BaseHook
    from airflow.providers.http.operators.http import HttpOperator

    BaseHook.get_connection(HTTP_CONN_ID)
    operator = HttpOperator(
        task_id="export_contacts",
        http_conn_id=HTTP_CONN_ID,
        method="GET",
        endpoint="contacts",
        pagination_function=_next_page,
        response_filter=_all_contacts,
        retry_args=http_retry_args(),
    )

    def export() -> int:
        return write_jsonl(operator.execute({}), Path(args.out))

    return export


def prepare_requests(args: argparse.Namespace) -> Export:
    """A plain sequential requests loop, writing as it goes."""
    return lambda: export_with_requests(args.url, args.token, Path(args.out))


def export_with_requests(url: str, token: str, out: Path) -> int:
    """Follow ``meta.next`` page by page; on 429 wait as ``Retry-After`` says."""
    import requests

    count, params = 0, dict[str, str]()
    with requests.Session() as session, out.open("w", encoding="utf-8") as file:
        session.headers["Authorization"] = f"Bearer {token}"
        while True:
            response = session.get(f"{url}/contacts", params=params, timeout=30)
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After") or 1))
                continue
            response.raise_for_status()
            page = response.json()
            count += write_lines(page["contacts"], file)
            if not page["meta"]["next"]:
                return count
            params = {"after": page["meta"]["next"]}


def _dumps(contact: Any) -> str:
    # The operator's JSONL encoding, so every variant writes the same bytes.
    return json.dumps(contact, ensure_ascii=False, separators=(",", ":"))


def write_lines(contacts: Iterable[Any], file: Any) -> int:
    count = 0
    for contact in contacts:
        file.write(_dumps(contact) + "\n")
        count += 1
    return count


def write_jsonl(contacts: Iterable[Any], out: Path) -> int:
    with out.open("w", encoding="utf-8") as file:
        return write_lines(contacts, file)


PREPARERS: dict[str, Callable[[argparse.Namespace], Export]] = {
    "callbell": prepare_callbell,
    "http": prepare_http,
    "requests": prepare_requests,
}


def _status_mb(key: str) -> float:
    """A memory figure of this process from /proc/self/status (``VmRSS``, ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak is the export's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _cpu_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def measure(export: Export) -> Measurement:
    """Run ``export`` once; wall and CPU time, RSS before and peak RSS during it."""
    gc.collect()
    peak_reset = _reset_peak_rss()
    rss_before = _status_mb("VmRSS")
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    count = export()
    wall = time.perf_counter() - started
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    return Measurement(
        contacts=count,
        wall_s=wall,
        cpu_s=_cpu_seconds(usage_after) - _cpu_seconds(usage_before),
        rss_before_mb=rss_before,
        peak_rss_mb=_status_mb("VmHWM"),
        ru_maxrss_mb=usage_after.ru_maxrss / 1024,
        peak_reset=peak_reset,
    )


def _count_problem(returned: int, out: Path, expected: int) -> str | None:
    """Why the output is wrong (count, duplicates), or ``None``; checked after measuring.

    A live account (``expected`` < 0) is checked by the parent, against its event log.
    """
    if expected < 0:
        return None
    lines, uuids = 0, set()
    with out.open(encoding="utf-8") as file:
        for line in file:
            uuids.add(json.loads(line)["uuid"])
            lines += 1
    if returned == lines == len(uuids) == expected:
        return None
    return (
        f"expected {expected:,} contacts, the export returned {returned:,}, "
        f"the file has {lines:,} lines and {len(uuids):,} distinct uuids"
    )


# --------------------------------------------------------------------------------------------
# The parent: sandboxes, interleaved runs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    scenarios: list[Scenario]
    variants: list[Variant]
    sweep: list[Variant]
    budget_s: float
    skip_expected_failures: bool
    workdir: Path


def build_plan(args: argparse.Namespace, workdir: Path) -> Plan:
    sizes = (1_000, 5_000, 20_000) if args.quick else (10_000, 100_000, 1_000_000)
    reps_ab = args.reps if args.reps is not None else (1 if args.quick else 3)
    every = {
        "A": Scenario("A", sizes[0], 0.05, reps_ab),
        "K": Scenario("K", sizes[0], 0.05, reps_ab, LIVE_EVENTS_PER_SECOND, "keyset"),
        "S": Scenario("S", sizes[0], 0.05, reps_ab, LIVE_EVENTS_PER_SECOND, "snapshot"),
        "B": Scenario("B", sizes[1], 0.0, reps_ab),
        "C": Scenario("C", sizes[2], 0.0, args.reps_c),
    }
    variants = [Variant("callbell", "callbell")]
    if args.raised_rps:
        variants.append(Variant(f"callbell@{args.raised_rps:g}rps", "callbell", max_rps=args.raised_rps))
    variants += [Variant(kind, kind) for kind in ("http", "requests") if kind in args.variants.split(",")]
    sweep_values = args.sweep_concurrency or ("1,16" if args.quick else "1,4,8,16,32")
    concurrencies = [] if sweep_values == "none" else [int(c) for c in sweep_values.split(",")]
    sweep = [Variant(f"callbell c={c}", "callbell", concurrency=c) for c in concurrencies]
    return Plan(
        scenarios=[every[key] for key in args.scenarios.split(",")],
        variants=variants,
        sweep=sweep,
        budget_s=args.budget_seconds,
        skip_expected_failures=args.skip_expected_failures,
        workdir=workdir,
    )


def child_env(workdir: Path) -> dict[str, str]:
    home = workdir / "airflow-home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}


@contextlib.contextmanager
def sandbox_for(scenario: Scenario) -> Iterator[Any]:
    from airflow_provider_callbell.sandbox import CallbellSandbox

    print(f"\n## Scenario {scenario.label}: generating the sandbox...", flush=True)
    started = time.perf_counter()
    sandbox = CallbellSandbox(
        contacts=scenario.contacts,
        seed=SEED,
        latency=scenario.latency,
        rate_limit=SERVER_RATE_LIMIT,
        page_size=PAGE_SIZE,
        page_cap=PAGE_CAP,
        pagination="cursor",
        port=0,
        events_per_second=scenario.events_per_second,
        cursor_semantics=scenario.cursor_semantics,
    )
    print(f"   {scenario.contacts:,} contacts in {time.perf_counter() - started:.1f} s", flush=True)
    with sandbox:
        yield sandbox


def spawn(sandbox: Any, scenario: Scenario, variant: Variant, rep: int, plan: Plan) -> Run:
    """Run ``variant`` once in a fresh interpreter; pair its measurement with the sandbox's stats."""
    stem = plan.workdir / f"{scenario.key}-{rep}-{variant.name.replace(' ', '_')}"
    out, result, log = (stem.with_suffix(suffix) for suffix in (".jsonl", ".result.json", ".log"))
    command = [sys.executable, str(Path(__file__).resolve()), *variant.child_options()]
    command += ["--url", sandbox.url, "--out", str(out)]
    command += ["--expected", str(-1 if scenario.live else scenario.contacts), "--result-file", str(result)]
    timeout = max(300.0, 4 * variant.estimate_seconds(scenario) + 120)
    time.sleep(SETTLE_SECONDS)
    sandbox.reset_stats()
    idle_threads, before = threading.active_count(), CpuSnapshot.take()
    account_before = sandbox.state() if scenario.live else None
    error = _run_child(command, log, plan.workdir, sandbox, timeout)
    other_cores = CpuSnapshot.take().other_cores_since(before)
    stats = sandbox.stats
    measurement = Measurement(**json.loads(result.read_text())) if error is None else None
    check = None
    if account_before is not None and error is None:
        check = sandbox.expected_walk(account_before, sandbox.state()).check(_uuids(out))
    for path in (out, result) if error else (out, result, log):
        path.unlink(missing_ok=True)
    return Run(
        scenario=scenario.key,
        variant=variant.name,
        rep=rep,
        measurement=measurement,
        total_requests=stats.total_requests,
        by_status=dict(stats.by_status),
        rate_limited=stats.rate_limited,
        max_rps=stats.max_requests_per_second,
        other_cores=other_cores,
        drain_s=_drain_connections(idle_threads),
        error=error,
        missed=None if check is None else len(check.missed),
        duplicated=None if check is None else len(check.duplicated),
        unexpected=None if check is None else len(check.unexpected),
    )


def _uuids(out: Path) -> list[str]:
    with out.open(encoding="utf-8") as file:
        return [json.loads(line)["uuid"] for line in file]


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used by the whole machine and by this process tree, at one moment."""

    at: float
    machine: float
    ours: float

    @classmethod
    def take(cls) -> CpuSnapshot:
        # user nice system idle iowait irq softirq steal: all but idle and iowait are taken.
        ticks = [int(value) for value in _read("/proc/stat")[0].split()[1:9]]
        busy = sum(ticks) - ticks[3] - ticks[4]
        own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        ours = _cpu_seconds(own) + _cpu_seconds(children)
        return cls(at=time.monotonic(), machine=busy / CLOCK_TICKS, ours=ours)

    def other_cores_since(self, start: CpuSnapshot) -> float:
        """Cores used by other processes (or stolen by the hypervisor) on average since ``start``."""
        others = (self.machine - start.machine) - (self.ours - start.ours)
        return max(0.0, others) / max(self.at - start.at, 1e-9)


def _run_child(command: list[str], log: Path, workdir: Path, sandbox: Any, timeout: float) -> str | None:
    with log.open("w") as sink:
        # The token goes through the environment: on the command line, ps would show it.
        env = {**child_env(workdir), TOKEN_ENV: sandbox.token}
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
        error = watch_child(process, sandbox, timeout)
    if error is None:
        return None
    lines = log.read_text(errors="replace").strip().splitlines()
    return f"{error} (log: {log}): ...{lines[-1][-300:] if lines else ''}"


def watch_child(
    process: subprocess.Popen[bytes], sandbox: Any, timeout: float, interval: float = WATCH_INTERVAL
) -> str | None:
    """Wait for the child, looking every ``interval`` s; kill it when it stalls or overruns ``timeout``."""
    started = last_move = time.monotonic()
    mark = (-1, 0.0)
    while process.poll() is None:
        time.sleep(interval)
        now, requests, cpu = time.monotonic(), sandbox.stats.total_requests, _process_cpu(process.pid)
        if requests != mark[0] or cpu - mark[1] >= STALL_CPU_S:
            mark, last_move = (requests, cpu), now
        elif now - last_move > STALL_SECONDS:
            return _kill(
                process,
                f"stalled: no request and no CPU for {STALL_SECONDS:.0f} s after {requests:,} requests",
            )
        if now - started > timeout:
            return _kill(process, f"timed out after {timeout:.0f} s")
    return None if process.returncode == 0 else f"exit code {process.returncode}"


def _kill(process: subprocess.Popen[bytes], why: str) -> str:
    process.kill()
    process.wait()
    return why


def _process_cpu(pid: int) -> float:
    """User plus system CPU seconds of a live process, from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _drain_connections(idle_threads: int) -> float:
    """Wait until the sandbox's per-connection threads have ended; return the seconds waited."""
    started = time.monotonic()
    while threading.active_count() > idle_threads and time.monotonic() - started < DRAIN_TIMEOUT:
        time.sleep(0.2)
    return time.monotonic() - started


def run_group(sandbox: Any, scenario: Scenario, variants: list[Variant], plan: Plan) -> list[Summary]:
    """Every variant ``scenario.reps`` times, interleaved: ABCABC, not AABBCC."""
    summaries = [Summary(scenario, variant) for variant in variants]
    for summary in summaries:
        estimate = summary.variant.estimate_seconds(scenario)
        print(f"   {summary.variant.name:<18} estimated {estimate:7.1f} s per run", flush=True)
        if estimate > plan.budget_s:
            summary.skipped = f"skipped: estimated {estimate:,.0f} s > budget {plan.budget_s:,.0f} s"
            print(f"   !! {summary.variant.name} {summary.skipped} (see --budget-seconds)", flush=True)
        warning = preflight_warning(summary.variant, scenario)
        if warning and plan.skip_expected_failures:
            summary.skipped = f"not run (--skip-expected-failures), {warning}"
        else:
            summary.warning = warning
        if warning:
            print(f"   !! {summary.variant.name}: {summary.skipped or warning}", flush=True)
    for rep in range(scenario.reps):
        for summary in summaries:
            if summary.skipped is None:
                run = spawn(sandbox, scenario, summary.variant, rep, plan)
                summary.runs.append(run)
                print(progress_line(run, scenario), flush=True)
    return summaries


def preflight_warning(variant: Variant, scenario: Scenario) -> str | None:
    """Why a variant is expected to fail here, known before running it."""
    open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if variant.kind != "http" or scenario.pages < open_files - 100:
        return None
    return (
        f"expected to fail: HttpOperator keeps one open connection per page until it returns "
        f"(HttpHook.run opens a new Session per request and every kept Response holds its "
        f"connection pool), {scenario.pages:,} pages against ulimit -n {open_files:,}"
    )


def progress_line(run: Run, scenario: Scenario) -> str:
    head = f"   {scenario.key} rep {run.rep + 1}/{scenario.reps} {run.variant:<18}"
    m = run.measurement
    if m is None:
        return f"{head} FAILED: {run.error}"
    return (
        f"{head} wall {m.wall_s:8.2f} s  cpu {m.cpu_s:7.2f} s  rss {m.rss_before_mb:6.0f}"
        f" -> peak {m.peak_rss_mb:6.0f} MB  429s {run.rate_limited}  max {run.max_rps} req/s"
        f"  statuses {run.by_status}  other CPU {run.other_cores:.2f} cores"
        + (f"  (drained connections {run.drain_s:.0f} s)" if run.drain_s > 1 else "")
    )


def benchmark(plan: Plan) -> tuple[list[Summary], list[Summary]]:
    main: list[Summary] = []
    sweep: list[Summary] = []
    for scenario in plan.scenarios:
        with sandbox_for(scenario) as sandbox:
            main += run_group(sandbox, scenario, plan.variants, plan)
            if scenario.key == "A" and plan.sweep:
                print(f"\n## Concurrency sweep on scenario {scenario.label}", flush=True)
                sweep += run_group(sandbox, scenario, plan.sweep, plan)
        gc.collect()
    return main, sweep


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or not bottom else top / bottom


def _wall(summary: Summary | None) -> float | None:
    return None if summary is None else summary.median("wall_s")


def _cpu_us(summary: Summary | None) -> float | None:
    return None if summary is None else summary.cpu_us_per_contact


def table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 2) -> str:
    align = [":--"] * left + ["--:"] * (len(header) - left)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


MAIN_HEADER = (
    "Scenario",
    "Variant",
    "Runs",
    "Wall s",
    "CPU s",
    "CPU µs/contact",
    "Peak RSS MB",
    "RSS before MB",
    "Peak - before MB",
    "429s (all runs)",
    "Max req/s",
    "Other non-200",
    "Other CPU, cores",
)


def main_row(summary: Summary) -> list[str]:
    name = (summary.scenario.label, summary.variant.name)
    if not summary.ok:
        why = "not run (see notes)" if summary.skipped else "FAILED (see notes)"
        return [*name, "0", why, *["n/a"] * (len(MAIN_HEADER) - 4)]
    runs = summary.runs
    failed = f" ({len(summary.failures)} failed)" if summary.failures else ""
    return [
        *name,
        f"{len(summary.ok)}{failed}",
        _num(summary.median("wall_s"), 2),
        _num(summary.median("cpu_s"), 2),
        _num(summary.cpu_us_per_contact, 0),
        _num(summary.median("peak_rss_mb"), 0),
        _num(summary.median("rss_before_mb"), 0),
        _num(summary.peak_delta_mb, 0),
        str(sum(run.rate_limited for run in runs)),
        str(max(run.max_rps for run in runs)),
        str(sum(run.other_errors for run in runs)),
        _num(summary.other_cores, 2),
    ]


def find(summaries: list[Summary], scenario: str, variant: str) -> Summary | None:
    for summary in summaries:
        if summary.scenario.key == scenario and summary.variant.name == variant:
            return summary
    return None


def ratio_rows(summaries: list[Summary], operators: list[str]) -> list[list[str]]:
    rows = []
    for key in dict.fromkeys(summary.scenario.key for summary in summaries):
        http = find(summaries, key, "http")
        row = [next(s.scenario.label for s in summaries if s.scenario.key == key)]
        for name in operators:
            operator = find(summaries, key, name)
            wall = _ratio(_wall(http), _wall(operator))
            cpu = _ratio(_cpu_us(http), _cpu_us(operator))
            row += [_num(wall, 2) + "x" if wall else "n/a", _num(cpu, 2) + "x" if cpu else "n/a"]
        rows.append(row)
    return rows


def sweep_rows(sweep: list[Summary]) -> list[list[str]]:
    base = sweep[0].median("wall_s") if sweep else None
    rows = []
    for summary in sweep:
        wall = summary.median("wall_s")
        rows.append(
            [
                str(summary.variant.concurrency),
                str(len(summary.ok)),
                _num(wall, 2),
                _num(summary.median("cpu_s"), 2),
                _num(_ratio(base, wall), 1) + "x",
                str(sum(run.rate_limited for run in summary.runs)),
                str(max((run.max_rps for run in summary.runs), default=0)),
            ]
        )
    return rows


@dataclass(frozen=True)
class Verdict:
    target: str
    met: bool | None
    evidence: str

    def line(self) -> str:
        word = {True: "**met**", False: "**missed**", None: "not measured"}[self.met]
        return f"- {self.target}: {word}. {self.evidence}"


def speed_verdict(summaries: list[Summary]) -> Verdict:
    target = "A (static account, 50 ms latency): operator ≥ 10x faster than HttpOperator, with 0 429s"
    operator, http = find(summaries, "A", "callbell"), find(summaries, "A", "http")
    ratio = _ratio(_wall(http), _wall(operator))
    if operator is None or ratio is None:
        return Verdict(target, None, "")
    errors = sum(run.rate_limited for run in operator.runs)
    evidence = f"http / callbell wall = {ratio:.2f}x; operator 429s = {errors}."
    return Verdict(target, ratio >= 10 and errors == 0, evidence)


def live_verdicts(summaries: list[Summary]) -> list[Verdict]:
    verdicts = []
    for key in dict.fromkeys(s.scenario.key for s in summaries if s.scenario.live):
        operator, http = find(summaries, key, "callbell"), find(summaries, key, "http")
        target = f"{key} (live account): operator exact in every run and ≥ 4x faster than HttpOperator"
        ratio = _ratio(_wall(http), _wall(operator))
        if operator is None or not operator.ok or ratio is None:
            verdicts.append(Verdict(target, None, ""))
            continue
        wrong = [_errors(run) for run in operator.runs]
        evidence = (
            f"http / callbell wall = {ratio:.2f}x; operator missed/duplicated/unexpected per run: {wrong}."
        )
        verdicts.append(Verdict(target, ratio >= 4 and not any(any(w) for w in wrong), evidence))
    return verdicts


def _errors(run: Run) -> tuple[int, int, int]:
    return (run.missed or 0, run.duplicated or 0, run.unexpected or 0)


LIVE_HEADER = (
    "Scenario",
    "Variant",
    "Runs",
    "Wall s",
    "Requests",
    "Missed (per run)",
    "Duplicated (per run)",
    "Unexpected (per run)",
    "Wall http / this",
)


def live_rows(summaries: list[Summary]) -> list[list[str]]:
    """Exactness and cost side by side, the static scenario A first as the reference."""
    rows = []
    for summary in summaries:
        if not (summary.scenario.live or summary.scenario.key == "A") or not summary.ok:
            continue
        http = find(summaries, summary.scenario.key, "http")
        ratio = _ratio(_wall(http), _wall(summary))

        def per_run(name: str, summary: Summary = summary) -> str:
            if not summary.scenario.live:
                return "0 (static)"
            return ", ".join(str(getattr(run, name)) for run in summary.runs if run.measurement)

        rows.append(
            [
                summary.scenario.label,
                summary.variant.name,
                str(len(summary.ok)),
                _num(summary.median("wall_s"), 2),
                _num(statistics.median(run.total_requests for run in summary.runs), 0),
                per_run("missed"),
                per_run("duplicated"),
                per_run("unexpected"),
                _num(ratio, 2) + "x" if ratio else "n/a",
            ]
        )
    return rows


def memory_verdict(summaries: list[Summary]) -> Verdict:
    target = "Operator peak memory flat from the smallest to the largest account (peak RSS within 10%)"
    operator = sorted(
        (s for s in summaries if s.variant.name == "callbell" and s.ok), key=lambda s: s.scenario.contacts
    )
    if len(operator) < 2:
        return Verdict(target, None, "needs two scenarios or more")
    peaks = [s.median("peak_rss_mb") or 0.0 for s in operator]
    evidence = "; ".join(
        f"{s.scenario.contacts:,}: peak {_num(peak, 0)} MB (peak - before {_num(s.peak_delta_mb, 0)} MB)"
        for s, peak in zip(operator, peaks, strict=True)
    )
    return Verdict(target, peaks[-1] <= peaks[0] * 1.10, evidence + ".")


def cpu_verdict(summaries: list[Summary]) -> Verdict:
    target = "Operator CPU per contact ≤ half of HttpOperator's, in every scenario"
    ratios = {}
    for key in dict.fromkeys(summary.scenario.key for summary in summaries):
        operator, http = find(summaries, key, "callbell"), find(summaries, key, "http")
        ratio = _ratio(_cpu_us(http), _cpu_us(operator))
        if ratio is not None:
            ratios[key] = ratio
    if not ratios:
        return Verdict(target, None, "")
    evidence = ", ".join(f"{key}: http / callbell = {ratio:.2f}x" for key, ratio in ratios.items())
    return Verdict(target, all(ratio >= 2 for ratio in ratios.values()), evidence + " (needs ≥ 2x).")


def notes(summaries: list[Summary]) -> list[str]:
    lines = []
    for summary in summaries:
        who = f"{summary.scenario.key} / {summary.variant.name}"
        if summary.skipped:
            lines.append(f"- {who}: {summary.skipped}.")
        if summary.warning:
            lines.append(f"- {who}: {summary.warning}.")
        lines.extend(
            f"- {who} rep {run.rep + 1}: other processes used {run.other_cores:.2f} cores during the run: "
            "its figures may be inflated."
            for run in summary.runs
            if run.other_cores > NOISY_CORES
        )
        lines.extend(f"- {who} rep {run.rep + 1}: FAILED: {run.error}" for run in summary.failures)
        statuses = {s: c for run in summary.runs for s, c in run.by_status.items() if s != 200}
        if statuses:
            per_run = "; ".join(f"run {r.rep + 1}: {r.by_status}" for r in summary.runs)
            lines.append(f"- {who}: non-200 answers from the sandbox ({per_run}).")
        if any(not m.peak_reset for m in summary.ok):
            lines.append(f"- {who}: could not reset VmHWM; peak RSS includes the imports.")
    return lines


def machine() -> list[str]:
    model = next(
        (line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    memory = next((line.split()[1] for line in _read("/proc/meminfo") if line.startswith("MemTotal")), "0")
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in (
            "apache-airflow",
            "apache-airflow-providers-http",
            "airflow-provider-callbell",
            "requests",
        )
    )
    return [
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {os.cpu_count()} x {model}; RAM {int(memory) / MB:.1f} GB; {platform.platform()}",
        f"- Python {platform.python_version()}; {versions}",
    ]


def _read(path: str) -> list[str]:
    with contextlib.suppress(OSError):
        return Path(path).read_text().splitlines()
    return []


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.rstrip()


@dataclass(frozen=True)
class CodeVersion:
    """The commit measured and a fingerprint of the provider's files as they are on disk."""

    commit: str
    provider: str
    dirty: tuple[str, ...]

    @classmethod
    def now(cls) -> CodeVersion:
        tree = _git("rev-parse", f"HEAD:{PROVIDER}") + _git("diff", "HEAD", "--", PROVIDER)
        dirty = tuple(line[3:] for line in _git("status", "--porcelain", "--", PROVIDER).splitlines())
        fingerprint = hashlib.sha256((tree + "\n".join(dirty)).encode()).hexdigest()[:12]
        return cls(_git("rev-parse", "--short", "HEAD") or "unknown", fingerprint, dirty)

    def describe(self) -> str:
        return self.commit + (f", uncommitted changes in {', '.join(self.dirty)}" if self.dirty else "")


def version_line(start: CodeVersion, end: CodeVersion) -> str:
    """Which code was measured, and whether the provider changed while the benchmark ran."""
    line = f"- Code: {start.describe()}"
    if end.provider != start.provider:
        files = ", ".join(_git("diff", "--name-only", start.commit, "--", PROVIDER).split()) or "none"
        return f"{line}; **the provider changed during the run**: now {end.describe()} (files: {files})"
    if end.commit != start.commit:
        return f"{line}; HEAD moved to {end.commit} during the run, the provider's files did not change"
    return line


def command_line() -> str:
    def short(path: str) -> str:
        with contextlib.suppress(ValueError):
            return str(Path(path).absolute().relative_to(ROOT))
        return path

    return shlex.join([short(sys.executable), short(sys.argv[0]), *sys.argv[1:]])


def report(main: list[Summary], sweep: list[Summary], plan: Plan, elapsed: float, version: str) -> str:
    operators = [v.name for v in plan.variants if v.kind == "callbell"]
    ratio_header = ["Scenario"]
    for name in operators:
        ratio_header += [f"Wall http / {name}", f"CPU per contact http / {name}"]
    parts = [
        "## Machine",
        "\n".join(machine()),
        version,
        f"\nCommand (from the repository root): `{command_line()}`; took {elapsed / 60:.1f} min.",
        "\n## Results (medians over the runs)",
        table(MAIN_HEADER, (main_row(s) for s in main)),
        "\n## http / callbell ratios (higher means the operator does better)",
        table(ratio_header, ratio_rows(main, operators), left=1),
    ]
    if sweep:
        header = ["Concurrency", "Runs", "Wall s", "CPU s", "Speed-up vs first", "429s", "Max req/s"]
        parts += [f"\n## Concurrency sweep ({sweep[0].scenario.label})", table(header, sweep_rows(sweep), 1)]
    if any(s.scenario.live for s in main):
        parts += [
            "\n## A live account: exactness and its cost (static A for reference)",
            table(LIVE_HEADER, live_rows(main)),
        ]
    verdicts = [speed_verdict(main), *live_verdicts(main), memory_verdict(main), cpu_verdict(main)]
    parts += ["\n## Targets", "\n".join(v.line() for v in verdicts)]
    parts += ["\n## Notes", "\n".join(notes(main + sweep)) or "- None: every run returned 200s only."]
    return "\n".join(parts) + "\n"


def raw_runs(summaries: list[Summary]) -> str:
    lines = [json.dumps(asdict(run), default=str) for s in summaries for run in s.runs]
    return (
        "<details><summary>Raw runs (JSON, one per line)</summary>\n\n```\n"
        + "\n".join(lines)
        + "\n```\n</details>\n"
    )


RESULTS_INTRO = """# Benchmark results: exporting all contacts to JSON Lines

Generated by `benchmarks/export_contacts.py`; see `benchmarks/README.md` for what each column
means. Peak RSS is the child's `VmHWM` over the export alone (reset just before it): `ru_maxrss`
of a child inherits the parent's high-water mark through `exec` on Linux, and the parent holds
the sandbox (about 1.5 GB for a million contacts). `ru_maxrss` is kept in the raw runs.

"""


def parent_main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="callbell-bench-"))
    plan = build_plan(args, workdir)
    started, version = time.perf_counter(), CodeVersion.now()
    main, sweep = benchmark(plan)
    text = report(main, sweep, plan, time.perf_counter() - started, version_line(version, CodeVersion.now()))
    print("\n" + text)
    results = _results_path(args)
    if results is not None:
        results.write_text(RESULTS_INTRO + text + "\n" + raw_runs(main + sweep))
        print(f"Wrote {results}")
    failed = any(s.failures for s in main + sweep)
    if failed:
        print(f"Some runs FAILED; their logs are in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


def _results_path(args: argparse.Namespace) -> Path | None:
    if args.results == "none":
        return None
    if args.results:
        return Path(args.results)
    return None if args.quick else DEFAULT_RESULTS


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare CallbellListContactsOperator, HttpOperator and a requests loop exporting "
        "every contact of a sandbox account to JSON Lines.",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1k/5k/20k contacts, 1 rep each")
    parser.add_argument(
        "--scenarios",
        default="A,K,S,B,C",
        help="comma-separated subset of A,K,S,B,C (default all); K and S are A on a live account "
        "(20 events/s) with keyset or snapshot cursors",
    )
    parser.add_argument(
        "--variants", default="http,requests", help="baselines beside the operator (default http,requests)"
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions of A and B (default 3; 1 quick)")
    parser.add_argument("--reps-c", type=int, default=1, help="repetitions of C (default 1)")
    parser.add_argument(
        "--sweep-concurrency",
        default=None,
        help="operator concurrencies swept on A (default 1,4,8,16,32; quick 1,16); 'none' to skip",
    )
    parser.add_argument(
        "--raised-rps",
        type=float,
        default=300,
        help="also run the operator with this max_requests_per_second (default 300; 0: don't)",
    )
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=1200,
        help="skip (and report) a variant estimated to need more seconds a run (default 1200)",
    )
    parser.add_argument(
        "--skip-expected-failures",
        action="store_true",
        help="do not run variants known to fail here (HttpOperator with more pages than ulimit -n)",
    )
    parser.add_argument(
        "--results", default=None, help="Markdown output (default benchmarks/RESULTS.md; none with --quick)"
    )
    child = parser.add_argument_group(
        "one variant, as the benchmark runs it in a subprocess", f"The API token comes from ${TOKEN_ENV}."
    )
    child.add_argument("--run-variant", choices=KINDS, help="run this variant once and print its figures")
    child.add_argument("--url", help="API base URL, e.g. http://127.0.0.1:8765/v1")
    child.add_argument("--out", help="JSONL file to write")
    child.add_argument("--expected", type=int, help="the account's contact count")
    child.add_argument("--result-file", help="write the figures here (JSON) instead of stdout")
    child.add_argument("--concurrency", type=int, default=None, help="operator concurrency")
    child.add_argument("--max-rps", type=float, default=None, help="operator max_requests_per_second")
    parser.set_defaults(token=os.environ.get(TOKEN_ENV))
    args = parser.parse_args(argv)
    if args.run_variant and not all((args.url, args.token, args.out, args.expected is not None)):
        parser.error(f"--run-variant needs --url, --out, --expected and the API token in ${TOKEN_ENV}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return child_main(args) if args.run_variant else parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
