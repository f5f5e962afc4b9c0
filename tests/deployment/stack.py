"""Airflow deployed as users run it: PostgreSQL, LocalExecutor, one process per component.

PostgreSQL comes from the package index (``pgserver``), so a fresh machine needs nothing else.
The components (Airflow 3: api-server, scheduler, dag-processor, triggerer; Airflow 2:
webserver instead of the api-server) run as separate processes, their output in files, and
everything a test checks goes through the REST API, the CLI, or the files the DAGs write.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

T = TypeVar("T")

FINISHED = ("success", "failed")
ADMIN = ("admin", "admin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def eventually(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.5) -> T:
    """The first truthy result of ``check``, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(every)


def settings(home: Path, database: str, port: int, dags: Path) -> dict[str, str]:
    """The environment of every component: one home, one database, one secret of each kind."""
    from cryptography.fernet import Fernet

    api = f"http://127.0.0.1:{port}"
    values = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
    if AIRFLOW_V_3_0_PLUS:
        values |= {
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        }
    else:
        values |= {
            "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(port),
            "AIRFLOW__WEBSERVER__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__WEBSERVER__WORKERS": "1",
            "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.basic_auth",
            "AIRFLOW__API__ENABLE_XCOM_DESERIALIZE_SUPPORT": "True",
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        }
    return values


COMPONENTS = (
    ("api-server" if AIRFLOW_V_3_0_PLUS else "webserver"),
    "scheduler",
    "dag-processor",
    "triggerer",
)


@dataclass
class Deployment:
    """A running deployment: its environment, its processes and a REST client."""

    root: Path
    env: dict[str, str]
    port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/{'v2' if AIRFLOW_V_3_0_PLUS else 'v1'}"

    # processes

    def cli(self, *arguments: str, check: bool = True) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and done.returncode:
            raise RuntimeError(
                f"airflow {' '.join(arguments)} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
            )
        return done.stdout

    def start(self, component: str) -> None:
        output = (self.root / "processes" / f"{component}.log").open("ab")
        self.processes[component] = subprocess.Popen(
            [sys.executable, "-m", "airflow", component],
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, component: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(component)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for component in list(self.processes):
            self.kill(component, signal.SIGTERM)

    def output(self, component: str) -> str:
        return (self.root / "processes" / f"{component}.log").read_text(errors="replace")

    def said_of(self, component: str, run_id: str) -> list[str]:
        """The lines of a component's output that name the run."""
        return [line for line in self.output(component).splitlines() if run_id in line]

    def all_logs(self) -> str:
        """Every process output and every task log the deployment wrote."""
        files = [*(self.root / "processes").glob("*.log"), *Path(self.env["AIRFLOW_HOME"], "logs").rglob("*")]
        return "\n".join(path.read_text(errors="replace") for path in files if path.is_file())

    # REST API

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.api}{path}", timeout=30, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:2000]}")
        return response.json() if response.content else None

    def dag_known(self, dag_id: str) -> bool:
        response = self.http.get(f"{self.api}/dags/{dag_id}", timeout=30)
        return response.status_code == 200

    def unpause(self, dag_id: str) -> None:
        eventually(lambda: self.dag_known(dag_id), 90, f"the DAG {dag_id} to be parsed")
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger_api(self, dag_id: str, logical_date: str | None) -> str:
        """A run through the REST API, with a logical date as the UI gives one."""
        key = "logical_date" if AIRFLOW_V_3_0_PLUS else "execution_date"
        run = self.request("POST", f"/dags/{dag_id}/dagRuns", json={key: logical_date})
        return str(run["dag_run_id"])

    def trigger_cli(self, dag_id: str) -> str:
        """A manual run from the CLI, as users type it: no logical date."""
        before = {run["dag_run_id"] for run in self.runs(dag_id)}
        self.cli("dags", "trigger", dag_id)
        return eventually(lambda: self.new_run(dag_id, before), 30, "the triggered run")

    def new_run(self, dag_id: str, before: set[str]) -> str | None:
        """A run of ``dag_id`` that is not among ``before``, once one appears."""
        fresh = [run["dag_run_id"] for run in self.runs(dag_id) if run["dag_run_id"] not in before]
        return fresh[0] if fresh else None

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})[
            "dag_runs"
        ]
        return runs

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        return run

    def state(self, dag_id: str, run_id: str) -> str | None:
        """The run's state once it is final, else None."""
        state = str(self.run(dag_id, run_id)["state"])
        return state if state in FINISHED else None

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 120) -> str:
        """The run's final state, once it has one."""
        return eventually(lambda: self.state(dag_id, run_id), timeout, f"run {run_id} of {dag_id} to finish")

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        ti = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        return ti["state"] if ti else None

    def wait_task_state(
        self, dag_id: str, run_id: str, task_id: str, state: str, timeout: float = 90
    ) -> None:
        eventually(
            lambda: self.task_state(dag_id, run_id, task_id) == state,
            timeout,
            f"{task_id} of {run_id} to be {state}",
        )

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.request("GET", path, params={"deserialize": "true", "stringify": "false"})["value"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task's log as the UI shows it, one line per record."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        json_please = {"Accept": "application/json"}
        response = self.http.get(
            f"{self.api}{path}", params={"full_content": "true"}, headers=json_please, timeout=30
        )
        if response.status_code == 404:
            return f"{task_id} of {run_id}: no log for try {try_number} ({response.text[:200]})"
        response.raise_for_status()
        content = response.json()["content"]
        if isinstance(content, str):
            return content
        return "\n".join(
            json.dumps(record) if isinstance(record, dict) else str(record) for record in content
        )

    def clear(self, dag_id: str, run_id: str) -> None:
        self.request("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json={"dry_run": False})

    def asset_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.request("GET", "/assets/events", params={"limit": 100})[
            "asset_events"
        ]
        return events


def wait_until_serving(deployment: Deployment) -> None:
    def up() -> bool:
        with contextlib.suppress(requests.RequestException):
            health = (
                f"http://127.0.0.1:{deployment.port}/{'api/v2/monitor/' if AIRFLOW_V_3_0_PLUS else ''}health"
            )
            return deployment.http.get(health, timeout=5).status_code == 200
        return False

    eventually(up, 120, "the API server to answer", every=1)


@contextlib.contextmanager
def deployed(root: Path, dags: Path, extra_env: dict[str, str]) -> Iterator[Deployment]:
    """Start PostgreSQL and every component; stop them all on the way out, whatever happened."""
    from pgserver import get_server  # type: ignore[attr-defined]

    # pgserver logs from an atexit hook, after pytest has closed its streams
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    (root / "processes").mkdir(parents=True)
    server = get_server(root / "postgres", cleanup_mode="stop")
    database = f"postgresql+psycopg2://postgres@/postgres?host={root / 'postgres'}"
    port = free_port()
    env = {**os.environ, **settings(root / "airflow", database, port, dags), **extra_env}
    deployment = Deployment(root, env, port)
    if not AIRFLOW_V_3_0_PLUS:
        deployment.http.auth = ADMIN
    try:
        deployment.cli("db", "migrate")
        if not AIRFLOW_V_3_0_PLUS:
            deployment.cli(
                *("users", "create", "--role", "Admin", "--username", ADMIN[0], "--password", ADMIN[1]),
                *("--email", "admin@example.com", "--firstname", "A", "--lastname", "Dmin"),
            )
        for component in COMPONENTS:
            deployment.start(component)
        wait_until_serving(deployment)
        yield deployment
    finally:
        deployment.stop()
        server.cleanup()
