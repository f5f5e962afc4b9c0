"""One deployment for the whole session: PostgreSQL, LocalExecutor, the Airflow components.

The sandbox plays Callbell: a live account where messages keep moving contacts to the top.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.deployment.stack import Deployment, deployed

EXAMPLES = Path(__file__).resolve().parents[2] / "dags"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
TOKEN = "cb-deployment-token-7f3a9c52e1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.deployment)


@pytest.fixture(scope="session")
def callbell() -> Iterator[CallbellSandbox]:
    """The Callbell account of the deployment, busy: 5 messages a second move contacts up."""
    with CallbellSandbox(
        contacts=400, seed=21, token=TOKEN, events_per_second=5, event_mix={"message": 1.0}
    ) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def deployment(callbell: CallbellSandbox) -> Iterator[Deployment]:
    root = Path(tempfile.mkdtemp(prefix="callbell-deployment-"))
    dags = root / "dags"
    shutil.copytree(EXAMPLES, dags, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(TEST_DAGS, dags, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    extra = {
        "AIRFLOW_CONN_CALLBELL_DEFAULT": callbell.airflow_connection(),
        "CALLBELL_EXPORT_DIR": str(root / "exports"),
        "CALLBELL_POLL_INTERVAL": "1",
        "CALLBELL_RETRY_DELAY": "1",
    }
    with deployed(root, dags, extra) as running:
        yield running
    shutil.rmtree(root, ignore_errors=True)
