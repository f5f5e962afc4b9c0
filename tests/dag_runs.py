"""Running one-task DAGs for real with ``dag.test()`` and reading what their task returned.

Airflow 3 runs only DAGs it can parse from the DAGs folder, so each run writes a small DAG
file there, runs it, and removes it.
"""

from __future__ import annotations

import json
import os
import runpy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, BaseOperator, task
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

NOT_RETURNED = object()

DAG_FILE = """\
import datetime
from tests.dag_runs import one_task_dag
from {module} import {name}

dag = one_task_dag({dag_id!r}, {name}, {kwargs!r}, {sink!r}, {schedule!r})
"""


@dataclass
class DagResult:
    """The end state of a test DAG run, and the XCom its task under test returned."""

    state: str
    returned: Any
    data_interval_start: datetime | None


def one_task_dag(
    dag_id: str, operator: type[BaseOperator], kwargs: dict[str, Any], sink: str, schedule: str | None
) -> DAG:
    """A DAG of ``operator(**kwargs)`` and a task that writes its XCom to ``sink``."""
    with DAG(dag_id, schedule=schedule, start_date=datetime(2026, 1, 1, tzinfo=UTC), catchup=False) as dag:
        under_test = operator(task_id="under_test", **kwargs)

        @task
        def record(value: Any) -> None:
            Path(sink).write_text(json.dumps(value))

        record(under_test.output)
    return dag


def run_task(
    operator: type[BaseOperator],
    kwargs: dict[str, Any],
    sink_dir: Path,
    *,
    when: datetime = datetime(2026, 11, 23, tzinfo=UTC),
    schedule: str | None = "@daily",
) -> DagResult:
    """Run ``operator(**kwargs)`` on ``when`` in a one-task DAG; return the run's state and XCom."""
    sink_dir.mkdir(parents=True, exist_ok=True)
    received = sink_dir / "returned.json"
    received.unlink(missing_ok=True)
    dag_id = f"test_{uuid.uuid4().hex[:12]}"
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    dag_file.write_text(
        DAG_FILE.format(
            module=operator.__module__,
            name=operator.__qualname__,
            dag_id=dag_id,
            kwargs=kwargs,
            sink=str(received),
            schedule=schedule,
        )
    )
    try:
        dag = runpy.run_path(str(dag_file))["dag"]
        run = dag.test(**{"logical_date" if AIRFLOW_V_3_0_PLUS else "execution_date": when})
    finally:
        dag_file.unlink()
    returned = json.loads(received.read_text()) if received.exists() else NOT_RETURNED
    return DagResult(str(run.state), returned, run.data_interval_start)
