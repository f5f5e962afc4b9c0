"""The export example, deployed: scheduled, CLI, REST (UI-like), cleared and backfilled runs.

Each run exports the contacts created since the last successful one into a file of its own;
no run replaces a file an earlier run wrote, and a cleared run writes its own window again.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.deployment.stack import Deployment, eventually

DAG_ID = "callbell_contacts_export"
TASK_ID = "export_new_contacts"


def exported(deployment: Deployment, run_id: str) -> list[str]:
    """The uuids in the run's file, read where the run's XCom says it wrote them."""
    summary = deployment.xcom(DAG_ID, run_id, TASK_ID)
    lines = Path(summary["path"]).read_text().splitlines()
    assert summary["count"] == len(lines)
    assert f"run_id={run_id}" in summary["path"]
    return sorted(json.loads(line)["uuid"] for line in lines)


def created_since(callbell: CallbellSandbox, deployment: Deployment, run_id: str, count: int) -> list[str]:
    """``count`` contacts created just after the window of ``run_id``: the next run's."""
    end = datetime.fromisoformat(deployment.xcom(DAG_ID, run_id, TASK_ID)["created_before"])
    moment = (end + timedelta(milliseconds=1)).isoformat().replace("+00:00", "Z")
    return sorted(callbell.add_contact(name=f"New {n}", createdAt=moment)["uuid"] for n in range(count))


def finished(deployment: Deployment, run_id: str) -> str:
    state = deployment.wait_run(DAG_ID, run_id)
    assert state == "success", deployment.task_log(DAG_ID, run_id, TASK_ID)
    return run_id


def scheduled_run(deployment: Deployment) -> str:
    deployment.unpause(DAG_ID)

    def scheduled() -> str | None:
        runs = deployment.runs(DAG_ID)
        return next((str(r["dag_run_id"]) for r in runs if r["run_type"] == "scheduled"), None)

    return eventually(scheduled, 60, "the scheduler to create a run")


@pytest.fixture(scope="module")
def files(deployment: Deployment) -> dict[str, list[str]]:
    """What each run wrote, kept to check that no later run changed it."""
    return {}


def test_a_scheduled_run_exports_every_contact(
    deployment: Deployment, callbell: CallbellSandbox, files: dict[str, list[str]]
) -> None:
    run_id = finished(deployment, scheduled_run(deployment))

    files[run_id] = exported(deployment, run_id)
    assert files[run_id] == sorted(contact["uuid"] for contact in callbell.contacts())
    log = deployment.task_log(DAG_ID, run_id, TASK_ID)
    assert "Exporting the contacts created from the beginning" in log


def test_a_manual_run_from_the_cli_exports_what_is_new_into_its_own_file(
    deployment: Deployment, callbell: CallbellSandbox, files: dict[str, list[str]]
) -> None:
    new = created_since(callbell, deployment, list(files)[-1], 3)

    run_id = finished(deployment, deployment.trigger_cli(DAG_ID))

    if AIRFLOW_V_3_0_PLUS:
        assert deployment.run(DAG_ID, run_id)["logical_date"] is None
    files[run_id] = exported(deployment, run_id)
    assert files[run_id] == new


def test_a_run_with_a_logical_date_from_the_rest_api_exports_what_is_new(
    deployment: Deployment, callbell: CallbellSandbox, files: dict[str, list[str]]
) -> None:
    new = created_since(callbell, deployment, list(files)[-1], 2)
    today = datetime.now().astimezone().isoformat()

    run_id = finished(deployment, deployment.trigger_api(DAG_ID, today))

    files[run_id] = exported(deployment, run_id)
    assert files[run_id] == new


def test_a_cleared_run_writes_its_own_window_again(
    deployment: Deployment, callbell: CallbellSandbox, files: dict[str, list[str]]
) -> None:
    cli_run = list(files)[1]
    created_since(callbell, deployment, list(files)[-1], 1)  # new since: not for the cleared run

    deployment.clear(DAG_ID, cli_run)
    eventually(lambda: deployment.run(DAG_ID, cli_run)["state"] != "success", 30, "the run to restart")
    finished(deployment, cli_run)

    assert exported(deployment, cli_run) == files[cli_run]


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="airflow backfill create is Airflow 3's")
def test_a_backfilled_run_exports_what_is_new_and_no_earlier_file_changes(
    deployment: Deployment, callbell: CallbellSandbox, files: dict[str, list[str]]
) -> None:
    before = {run["dag_run_id"] for run in deployment.runs(DAG_ID)}
    new = sorted(
        {*created_since(callbell, deployment, list(files)[-1], 2)} | set(unexported(callbell, files))
    )
    day = (datetime.now().astimezone() - timedelta(days=5)).date()

    deployment.cli("backfill", "create", "--dag-id", DAG_ID, "--from-date", str(day), "--to-date", str(day))
    run_id = eventually(lambda: deployment._new_run(DAG_ID, before), 60, "the backfill run")
    finished(deployment, run_id)

    assert deployment.run(DAG_ID, run_id)["run_type"] == "backfill"
    assert exported(deployment, run_id) == new
    for earlier, uuids in files.items():
        assert exported(deployment, earlier) == uuids


def unexported(callbell: CallbellSandbox, files: dict[str, list[str]]) -> list[str]:
    """Contacts no run has exported yet (the one created before the cleared run)."""
    done = {uuid for uuids in files.values() for uuid in uuids}
    return [contact["uuid"] for contact in callbell.contacts() if contact["uuid"] not in done]
