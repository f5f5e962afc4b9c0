"""Airflow deployed as users run it (see ``stack.py``), and the example DAGs run every way users run them.

One file, so that one worker runs these tests in this order against one deployment (``pytest -n``
sends a file to one worker): the exports first, then the sensors, then the asset watcher (so the
sensors' leads are old by the time it looks), the write-back example (``write_back.py``), and
last the look at every log for the token.

Exports: scheduled, CLI (no logical date), REST (with a logical date, as the UI), cleared and
backfilled runs; each exports the contacts created since the last successful one into a file of
its own, no run replaces a file an earlier run wrote, and a cleared run writes its own window again.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.deployment.conftest import TOKEN
from tests.deployment.stack import Deployment, eventually

DAG_ID = "callbell_contacts_export"
TASK_ID = "export_new_contacts"
DEFAULT_FIELDS = ("uuid", "tags", "source", "createdAt")
CRM_FIELDS = ("uuid", "name", "phoneNumber", "tags", "createdAt")
DEFER_SETTLE_SECONDS = 10


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
    run_id = eventually(lambda: deployment.new_run(DAG_ID, before), 60, "the backfill run")
    finished(deployment, run_id)

    assert deployment.run(DAG_ID, run_id)["run_type"] == "backfill"
    assert exported(deployment, run_id) == new
    for earlier, uuids in files.items():
        assert exported(deployment, earlier) == uuids


def unexported(callbell: CallbellSandbox, files: dict[str, list[str]]) -> list[str]:
    """Contacts no run has exported yet (the one created before the cleared run)."""
    done = {uuid for uuids in files.values() for uuid in uuids}
    return [contact["uuid"] for contact in callbell.contacts() if contact["uuid"] not in done]


# The lead examples: the sensor deferred in the real triggerer and rescheduled by the scheduler,
# and the asset watcher scheduling runs, through a triggerer killed and restarted.


def new_leads(callbell: CallbellSandbox, tag: str, count: int) -> list[dict[str, Any]]:
    return [callbell.add_contact(name=f"{tag.title()} lead {n}", tags=[tag]) for n in range(count)]


def projected(leads: list[dict[str, Any]], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return sorted(({key: lead[key] for key in fields} for lead in leads), key=lambda lead: lead["uuid"])


def by_uuid(leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(leads, key=lambda lead: lead["uuid"])


def crm_file(deployment: Deployment, run_id: str) -> list[dict[str, Any]]:
    path = Path(deployment.env["CALLBELL_EXPORT_DIR"]) / "crm" / f"new-leads-{run_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_deferrable_sensor_waits_in_the_triggerer(
    deployment: Deployment, callbell: CallbellSandbox
) -> None:
    dag_id, task_id = "callbell_new_leads_deferrable", "wait_for_new_leads"
    deployment.unpause(dag_id)
    run_id = deployment.trigger_cli(dag_id)
    deployment.wait_task_state(dag_id, run_id, task_id, "deferred")
    # Airflow 3.3.2 fails a deferred task that resumes while the scheduler has yet to handle the
    # executor's event for the try that deferred (apache/airflow#72716): let it handle that first.
    time.sleep(DEFER_SETTLE_SECONDS)

    leads = new_leads(callbell, "hot", 2)

    assert deployment.wait_run(dag_id, run_id) == "success"
    assert by_uuid(deployment.xcom(dag_id, run_id, task_id)) == projected(leads, DEFAULT_FIELDS)


TASKS = ("wait_for_new_leads", "sync_to_crm")


def why_not(deployment: Deployment, dag_id: str, run_id: str) -> str:
    """The run's task logs and what the scheduler said about the run."""
    logs = [deployment.task_log(dag_id, run_id, task) for task in TASKS]
    return "\n".join(
        [*logs, "scheduler:", *(line[:600] for line in deployment.said_of("scheduler", run_id)[-20:])]
    )


def test_the_reschedule_sensor_example_on_a_ui_run_and_a_scheduled_run(
    deployment: Deployment, callbell: CallbellSandbox
) -> None:
    dag_id, task_id = "callbell_new_leads", "wait_for_new_leads"
    deployment.unpause(dag_id)
    ui_run = deployment.trigger_api(dag_id, datetime.now().astimezone().isoformat())
    deployment.wait_task_state(dag_id, ui_run, task_id, "up_for_reschedule")
    scheduled = [run["dag_run_id"] for run in deployment.runs(dag_id) if run["run_type"] == "scheduled"]

    leads = new_leads(callbell, "lead", 2)

    for run_id in [ui_run, *scheduled]:
        state = deployment.wait_run(dag_id, run_id)
        assert state == "success", why_not(deployment, dag_id, run_id)
        assert by_uuid(deployment.xcom(dag_id, run_id, task_id)) == projected(leads, CRM_FIELDS)
        assert by_uuid(crm_file(deployment, run_id)) == projected(leads, CRM_FIELDS)
    assert scheduled, "unpausing the hourly example creates its latest scheduled run"


@pytest.fixture(scope="module")
def watcher(deployment: Deployment) -> Deployment:
    """The event-driven example unpaused, once its watcher has had its first look."""
    deployment.unpause("callbell_new_leads_event_driven")
    eventually(lambda: "reporting new ones from now on" in deployment.all_logs(), 90, "the first look")
    return deployment


def synced(deployment: Deployment) -> list[dict[str, Any]]:
    """Every lead the asset-triggered runs wrote, all files together."""
    folder = Path(deployment.env["CALLBELL_EXPORT_DIR"]) / "crm"
    files = sorted(folder.glob("new-leads-asset_triggered__*.jsonl"))
    return by_uuid([json.loads(line) for path in files for line in path.read_text().splitlines()])


def runs_done(deployment: Deployment) -> bool:
    runs = deployment.runs("callbell_new_leads_event_driven")
    return bool(runs) and all(run["state"] in ("success", "failed") for run in runs)


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="asset watchers are Airflow 3's")
def test_the_watcher_schedules_a_run_per_batch_of_new_leads(
    watcher: Deployment, callbell: CallbellSandbox
) -> None:
    leads = new_leads(callbell, "lead", 3)

    eventually(lambda: len(synced(watcher)) >= 3 and runs_done(watcher), 90, "the asset-triggered runs")

    assert synced(watcher) == projected(leads, DEFAULT_FIELDS)
    runs = watcher.runs("callbell_new_leads_event_driven")
    assert {run["run_type"] for run in runs} == {"asset_triggered"}
    assert all(run["state"] == "success" for run in runs)


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="asset watchers are Airflow 3's")
def test_leads_that_appear_while_the_triggerer_is_down_are_reported_once_after(
    watcher: Deployment, callbell: CallbellSandbox
) -> None:
    before = synced(watcher)
    watcher.kill("triggerer", signal.SIGKILL)
    leads = new_leads(callbell, "lead", 2)

    watcher.start("triggerer")
    eventually(lambda: len(synced(watcher)) >= len(before) + 2 and runs_done(watcher), 120, "the runs after")

    assert synced(watcher) == by_uuid(before + projected(leads, DEFAULT_FIELDS))


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="asset watchers are Airflow 3's")
def test_asset_events_carry_only_the_default_fields(watcher: Deployment, callbell: CallbellSandbox) -> None:
    events = [e for e in watcher.asset_events() if e["extra"] and e["extra"].get("from_trigger")]

    leads = [lead for event in events for lead in event["extra"]["payload"]["leads"]]
    assert len(leads) == 5
    assert {tuple(lead) for lead in leads} == {DEFAULT_FIELDS}
    # the triggerer logs every event it fires: the leads are there, their names and numbers not
    triggerer = watcher.output("triggerer")
    assert all(lead["uuid"] in triggerer for lead in leads)
    personal = [c[key] for c in callbell.contacts() if "lead" in c["tags"] for key in ("name", "phoneNumber")]
    assert not [value for value in personal if value in triggerer]


# The write-back example's tests, kept in write_back.py, run here: in this file's worker, against
# this deployment (a second test file would start a second deployment in another worker).
from tests.deployment.write_back import (  # noqa: E402
    failed_run,  # noqa: F401
    hot_run,  # noqa: F401
    on_call,  # noqa: F401
    test_a_failed_run_pages_the_person_on_call_once_and_sends_no_template,  # noqa: F401
    test_a_run_from_the_rest_api_tags_and_messages_the_best_leads_once_even_cleared,  # noqa: F401
    test_the_token_is_in_no_log_of_these_runs,  # noqa: F401
)


def test_the_token_is_in_no_log(deployment: Deployment) -> None:
    logs = deployment.all_logs()

    assert "Listed" in logs  # the export tasks' logs are among them
    assert "reporting new ones from now on" in logs or "Trigger" in logs  # and the triggerer's
    assert TOKEN not in logs
    assert TOKEN[: len(TOKEN) // 2] not in logs
