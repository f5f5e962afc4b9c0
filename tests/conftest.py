"""Fixtures shared by the whole suite: an isolated Airflow home and running sandboxes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="callbell-tests-airflow-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(os.environ["AIRFLOW_HOME"], "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_provider_callbell.api.retry import RetryPolicy
from airflow_provider_callbell.hooks.callbell import CallbellHook
from airflow_provider_callbell.sandbox import CallbellSandbox

SandboxFactory = Callable[..., CallbellSandbox]


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata database in the suite's Airflow home, once a session."""
    os.makedirs(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], exist_ok=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


@pytest.fixture
def sandbox_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxFactory]:
    """Start sandboxes with the given settings; the last one started is ``callbell_default``."""
    started: list[CallbellSandbox] = []

    def start(**settings: Any) -> CallbellSandbox:
        sandbox = CallbellSandbox(**settings)
        sandbox.start()
        started.append(sandbox)
        monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", sandbox.airflow_connection())
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> CallbellSandbox:
    """A sandbox of 130 contacts, 20 a page, behind ``callbell_default``."""
    return sandbox_factory(contacts=130, seed=7)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Everything logged at DEBUG and up, once. Call it at the end of the test.

    Airflow 3 prints task and hook loggers through structlog, outside ``logging``; Airflow 2
    sends them through ``logging``, whose console handler would show each line twice.
    """
    caplog.set_level(logging.DEBUG)

    def text() -> str:
        captured = capsys.readouterr()
        printed = captured.out + captured.err if AIRFLOW_V_3_0_PLUS else ""
        return caplog.text + printed

    return text


def connect(monkeypatch: pytest.MonkeyPatch, sandbox: CallbellSandbox, **extra: Any) -> None:
    """Point ``callbell_default`` at ``sandbox``, with these connection extras."""
    connection = json.loads(sandbox.airflow_connection())
    connection["extra"] = {"retry_backoff": 0.001, **extra}
    monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", json.dumps(connection))


def quick_hook(**kwargs: Any) -> CallbellHook:
    """A hook that retries without the production waits, so fault tests stay fast."""
    hook = CallbellHook(max_requests_per_second=kwargs.pop("max_requests_per_second", 5000), **kwargs)
    hook.retry_policy = RetryPolicy(
        max_retries=kwargs.get("max_retries", 6), backoff=0.001, max_backoff=0.01, max_retry_after=0.01
    )
    return hook
