"""The example DAGs parse cleanly and run end to end with ``airflow dags test``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import SandboxFactory

DAGS = Path(__file__).resolve().parent.parent / "dags"

pytestmark = pytest.mark.usefixtures("airflow_db")


def dag_bag_errors(folder: Path) -> dict[str, str]:
    from airflow.models.dagbag import DagBag

    return dict(DagBag(dag_folder=str(folder)).import_errors)


def test_example_dags_import_without_errors() -> None:
    assert dag_bag_errors(DAGS) == {}


def test_export_dag_runs_end_to_end(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(contacts=300, seed=2)
    today = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    for number in range(7):
        sandbox.add_contact(name=f"Lead {number}", tags=["Lead", "VIP"], createdAt="2026-11-24T08:00:00Z")
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "CALLBELL_EXPORT_DIR": str(tmp_path),
    }

    subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow",
            "dags",
            "test",
            "callbell_contacts_export",
            today.date().isoformat(),
        ],
        env=env,
        check=True,
        capture_output=True,
    )

    exported = tmp_path / "contacts" / "ds=2026-11-24" / "contacts.jsonl"
    names = [json.loads(line)["name"] for line in exported.read_text().splitlines()]
    assert names == [f"Lead {number}" for number in reversed(range(7))]


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
        ('tags_match="some"', "tags_match must be 'any' or 'all', got 'some'"),
        ('created_after="yesterday-ish"', "created_after must be a datetime or an ISO 8601 string"),
        ("max_contacts=0", "max_contacts must be a whole number >= 1"),
        ('output_format="csv"', "output_format and output_conn_id need output_path"),
        ("concurrency=0", "concurrency must be a whole number >= 1"),
    ],
)
def test_bad_static_arguments_fail_at_parse_time(tmp_path: Path, argument: str, message: str) -> None:
    (tmp_path / "bad_dag.py").write_text(BAD_DAG.format(argument=argument))

    errors = dag_bag_errors(tmp_path)

    assert len(errors) == 1
    assert message in next(iter(errors.values()))
