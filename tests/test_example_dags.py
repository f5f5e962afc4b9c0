"""The example DAGs parse cleanly and run end to end with ``airflow dags test``."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from tests.conftest import SandboxFactory

DAGS = Path(__file__).resolve().parent.parent / "dags"

pytestmark = pytest.mark.usefixtures("airflow_db")


def dag_bag_errors(folder: Path) -> dict[str, str]:
    from airflow.models.dagbag import DagBag

    return dict(DagBag(dag_folder=str(folder)).import_errors)


def test_example_dags_import_without_errors() -> None:
    assert dag_bag_errors(DAGS) == {}


def dags_test(
    dag_id: str,
    logical_date: str,
    export_dir: Path,
    env: dict[str, str] | None = None,
    *,
    fails: bool = False,
) -> str:
    """Run ``airflow dags test``; the run's output. Unless it ``fails``, the run must succeed."""
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "CALLBELL_EXPORT_DIR": str(export_dir),
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id, logical_date],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    output = done.stdout + done.stderr
    assert fails or done.returncode == 0, output[-6000:]
    return output


def test_new_leads_dag_runs_end_to_end(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(contacts=80, seed=6)
    lead = sandbox.add_contact(name="Fresh lead", tags=["Lead"], createdAt="2026-11-24T08:30:00Z")

    dags_test("callbell_new_leads", "2026-11-24T08:00:00+00:00", tmp_path)

    [written] = (tmp_path / "crm").iterdir()  # one file per run, named after the run
    assert written.name.startswith("new-leads-manual__")
    synced = written.read_text().splitlines()
    wanted = ("uuid", "name", "phoneNumber", "tags", "createdAt")
    assert [json.loads(line) for line in synced] == [{key: lead[key] for key in wanted}]


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="event-driven scheduling needs Airflow 3")
def test_event_driven_dag_is_scheduled_by_the_lead_watcher(sandbox: Any, tmp_path: Path) -> None:
    """A manual run has no asset event: it writes none of the account's leads, although there is one."""
    from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsEventTrigger

    sandbox.add_contact(name="Fresh lead", tags=["lead"], createdAt="2026-11-24T08:30:00Z")
    asset = runpy.run_path(str(DAGS / "callbell_new_leads_event_driven.py"))["new_callbell_leads"]
    assert isinstance(asset.watchers[0].trigger, CallbellNewLeadsEventTrigger)

    dags_test("callbell_new_leads_event_driven", "2026-11-24T08:00:00+00:00", tmp_path)

    [written] = (tmp_path / "crm").iterdir()  # one file per run, named after the run
    assert written.name.startswith("new-leads-manual__")
    assert written.read_text() == ""


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="Airflow 2 has no event-driven scheduling")
def test_event_driven_dag_is_absent_on_airflow_2() -> None:
    from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert "callbell_new_leads_event_driven" not in bag.dag_ids
    assert "callbell_new_leads" in bag.dag_ids


def airflow_cli(*arguments: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "airflow", *arguments], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def exported_uuids(export_dir: Path) -> dict[str, list[str]]:
    files = sorted((export_dir / "contacts").glob("run_id=*/contacts.jsonl"))
    return {
        path.parent.name: [json.loads(line)["uuid"] for line in path.read_text().splitlines()]
        for path in files
    }


def test_export_dag_exports_each_contact_once_run_after_run(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(contacts=300, seed=2)
    mark_key = "callbell_watermark.callbell_contacts_export.export_new_contacts"

    dags_test("callbell_contacts_export", "2026-11-24T00:00:00+00:00", tmp_path)
    [(first_run, first)] = exported_uuids(tmp_path).items()
    assert sorted(first) == sorted(contact["uuid"] for contact in sandbox.contacts())

    mark = json.loads(airflow_cli("variables", "get", mark_key))["created_before"]
    late = datetime.fromisoformat(mark) + timedelta(milliseconds=100)
    lead = sandbox.add_contact(name="Late lead", createdAt=late.isoformat().replace("+00:00", "Z"))
    dags_test("callbell_contacts_export", "2026-11-25T00:00:00+00:00", tmp_path)

    runs = exported_uuids(tmp_path)
    assert runs.pop(first_run) == first
    assert list(runs.values()) == [[lead["uuid"]]]


BAD_DAG = """
import pendulum
from airflow.providers.common.compat.sdk import DAG
from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator

with DAG("bad_callbell", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
    CallbellListContactsOperator(task_id="export", {argument})
"""


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ('output_path="/data/contacts.xml"', "output_format is not set and the suffix of output_path"),
        (
            'output_path="/data/x.json", output_format="xml"',
            "output_format must be one of jsonl, json, csv, parquet",
        ),
        ('tags_match="some"', "tags_match must be one of 'any', 'all', got 'some'"),
        ('created_after="yesterday-ish"', "created_after must be a datetime, an ISO 8601 string"),
        ("max_contacts=0", "max_contacts must be a whole number from 1 to"),
        ('output_format="csv"', "output_format and output_conn_id need output_path"),
        ("concurrency=0", "concurrency must be a whole number from 1 to"),
        (
            'incremental=True, created_before="2026-11-24"',
            "created_before cannot be combined with incremental",
        ),
        ("incremental=True, max_contacts=10", "max_contacts cannot be combined with incremental=True"),
        ('incremental="yes"', "incremental must be True or False, got 'yes'"),
        ('watermark_key="mark"', "watermark_key needs incremental=True"),
    ],
)
def test_bad_static_arguments_fail_at_parse_time(tmp_path: Path, argument: str, message: str) -> None:
    (tmp_path / "bad_dag.py").write_text(BAD_DAG.format(argument=argument))

    errors = dag_bag_errors(tmp_path)

    assert len(errors) == 1
    assert message in next(iter(errors.values()))


def hot_leads_env(sandbox: Any, template_status: str = "approved") -> dict[str, str]:
    template = next(
        t for t in sandbox.templates if t["status"] == template_status and t["text"].count("{{") <= 1
    )
    on_call = next(c for c in sandbox.contacts() if c["source"] == "whatsapp")
    sandbox.receive_message(on_call["uuid"])
    return {
        "AIRFLOW_VAR_CALLBELL_HOT_LEAD_TEMPLATE": template["uuid"],
        "AIRFLOW_VAR_CALLBELL_ON_CALL": on_call["phoneNumber"],
        "CALLBELL_POLL_INTERVAL": "0.05",
        "CALLBELL_RETRY_DELAY": "0",
    }


def test_hot_leads_dag_tags_and_messages_the_best_scored_leads(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(contacts=40, seed=8, message_status_interval=0.02)
    existing = sandbox.add_contact(name="Sofia Esposito", phoneNumber="+393205550103", tags=["vip"])

    dags_test("callbell_hot_leads", "2026-11-24T08:00:00+00:00", tmp_path, hot_leads_env(sandbox))

    hot = {c["phoneNumber"].replace(" ", ""): c for c in sandbox.contacts() if "hot" in c["tags"]}
    assert sorted(hot) == ["+393205550101", "+393205550103", "+393205550106"]
    assert sandbox.get_contact(existing["uuid"])["tags"] == ["vip", "hot"]
    assert {c["customFields"]["lead_score"] for c in hot.values()} == {"95", "91", "87"}
    sent = [m for m in sandbox.messages() if m["direction"] == "outbound"]
    assert sorted(m["templateValues"][0] for m in sent) == ["Giulia", "Matteo", "Sofia"]
    assert {m["metadata"]["campaign"] for m in sent} == {"hot_leads"}
    [report] = (tmp_path / "hot_leads").glob("run_id=*/upsert_report.jsonl")
    outcomes = sorted(json.loads(line)["outcome"] for line in report.read_text().splitlines())
    assert outcomes == ["created", "created", "updated"]


def test_hot_leads_dag_pages_the_people_on_call_when_it_fails(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(contacts=40, seed=8)
    env = hot_leads_env(sandbox, template_status="rejected")

    dags_test("callbell_hot_leads", "2026-11-24T08:00:00+00:00", tmp_path, env, fails=True)

    (page,) = [m for m in sandbox.messages() if m["direction"] == "outbound"]
    assert page["templateUuid"] is None
    assert page["to"].replace(" ", "") == env["AIRFLOW_VAR_CALLBELL_ON_CALL"].replace(" ", "")
    assert page["content"]["text"].startswith(
        "Airflow: DAG callbell_hot_leads, task message_hot_leads is failed"
    )
