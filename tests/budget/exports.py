"""Concurrent exports in several processes on one account, for the shared-budget tests and benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_callbell.sandbox import CallbellSandbox

REDIS_CONN_ID = "budget_redis"


def connection_env(
    sandbox: CallbellSandbox, redis_port: int | None, budget: float, **extra: Any
) -> dict[str, str]:
    """Environment naming ``callbell_default`` (with a shared budget when a port is given)."""
    connection = json.loads(sandbox.airflow_connection())
    connection["extra"] = {"max_requests_per_second": budget, **extra}
    env = {"AIRFLOW_CONN_CALLBELL_DEFAULT": json.dumps(connection)}
    if redis_port is not None:
        connection["extra"]["rate_limit_redis_conn_id"] = REDIS_CONN_ID
        env["AIRFLOW_CONN_CALLBELL_DEFAULT"] = json.dumps(connection)
        redis = {"conn_type": "redis", "host": "127.0.0.1", "port": redis_port}
        env[f"AIRFLOW_CONN_{REDIS_CONN_ID.upper()}"] = json.dumps(redis)
    return env


@dataclass
class Exports:
    """What concurrent exports in several processes read, and what they logged."""

    results: dict[str, dict[str, Any]]
    logs: str


def run_exports(
    out_dir: Path,
    env: dict[str, str],
    *,
    processes: int = 2,
    hooks_per_process: int = 2,
    concurrency: int = 4,
    meanwhile: Callable[[], None] | None = None,
) -> Exports:
    """Exports in ``processes`` processes of ``hooks_per_process`` threads each, started together."""
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = []
    for process in range(processes):
        names = [f"export-{process}-{hook}" for hook in range(hooks_per_process)]
        log = (out_dir / f"process-{process}.log").open("w")
        command = [sys.executable, "-m", "tests.budget.export_worker", str(out_dir)]
        workers.append(
            subprocess.Popen(
                [*command, str(concurrency), *names],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 120
    while len(list(out_dir.glob("*.ready"))) < processes * hooks_per_process:
        assert time.monotonic() < deadline
        assert all(worker.poll() is None for worker in workers)
        time.sleep(0.02)
    (out_dir / "go").touch()
    if meanwhile is not None:
        meanwhile()
    for worker in workers:
        worker.wait(timeout=240)
    logs = "".join(path.read_text() for path in sorted(out_dir.glob("process-*.log")))
    assert all(worker.returncode == 0 for worker in workers), logs[-5000:]
    results = {path.stem: json.loads(path.read_text()) for path in out_dir.glob("export-*.json")}
    assert len(results) == processes * hooks_per_process, logs[-5000:]
    return Exports(results, logs)
