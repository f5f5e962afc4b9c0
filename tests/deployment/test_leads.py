"""The lead examples, deployed: the sensor deferred in the real triggerer and rescheduled by the
scheduler, and the asset watcher scheduling runs, through a triggerer killed and restarted.

The tests run in this order: the watcher comes last, so the sensors' leads are old by then.
"""

from __future__ import annotations

import json
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.deployment.stack import Deployment, eventually

DEFAULT_FIELDS = ("uuid", "tags", "source", "createdAt")
CRM_FIELDS = ("uuid", "name", "phoneNumber", "tags", "createdAt")


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

    leads = new_leads(callbell, "hot", 2)

    assert deployment.wait_run(dag_id, run_id) == "success"
    assert by_uuid(deployment.xcom(dag_id, run_id, task_id)) == projected(leads, DEFAULT_FIELDS)


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
        assert deployment.wait_run(dag_id, run_id) == "success"
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
