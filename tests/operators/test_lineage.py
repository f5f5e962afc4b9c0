"""What the operator declares to OpenLineage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator
from airflow_provider_callbell.sandbox import CallbellSandbox


def test_lineage_names_the_api_and_the_written_file(sandbox: CallbellSandbox, tmp_path: Path) -> None:
    target = tmp_path / "contacts.jsonl"
    operator = CallbellListContactsOperator(task_id="export", output_path=f"file://{target}")
    operator.execute({})

    lineage = operator.get_openlineage_facets_on_complete(None)

    assert lineage is not None
    api = sandbox.url.split("/v1")[0]
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(api, "/v1/contacts")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("file", str(target).lstrip("/"))]


def test_xcom_mode_declares_no_output(sandbox: CallbellSandbox) -> None:
    operator = CallbellListContactsOperator(task_id="list", max_contacts=3)
    operator.execute({})

    lineage = operator.get_openlineage_facets_on_complete(None)

    assert lineage is not None
    assert lineage.outputs == []


def test_no_lineage_without_the_openlineage_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)

    assert CallbellListContactsOperator(task_id="list").get_openlineage_facets_on_complete(None) is None


PARQUET_TYPES = [
    ("uuid", "string"),
    ("name", "string"),
    ("phoneNumber", "string"),
    ("avatarUrl", "string"),
    ("createdAt", "timestamp[us, tz=UTC]"),
    ("source", "string"),
    ("href", "string"),
    ("conversationHref", "string"),
    ("tags", "list<string>"),
    ("assignedUser", "string"),
    ("customFields", "map<string, string>"),
    ("customFieldsMetadata", "json"),
    ("blockedAt", "timestamp[us, tz=UTC]"),
    ("closedAt", "timestamp[us, tz=UTC]"),
    ("funnelId", "string"),
    ("team", "json"),
    ("channel", "json"),
    ("bsuid", "string"),
    ("note", "string"),
    ("_extra", "json"),
]
JSON_TYPES = {
    "createdAt": "string",
    "blockedAt": "string",
    "closedAt": "string",
    "tags": "array<string>",
    "customFields": "object",
    "customFieldsMetadata": "object",
    "team": "object",
    "channel": "object",
}


def declared_schema(lineage: Any) -> list[tuple[str, str | None]]:
    (output,) = lineage.outputs
    return [(field.name, field.type) for field in output.facets["schema"].fields]


def export_lineage(tmp_path: Path, name: str, **kwargs: Any) -> Any:
    operator = CallbellListContactsOperator(task_id="export", output_path=str(tmp_path / name), **kwargs)
    operator.execute({})
    return operator.get_openlineage_facets_on_complete(None)


def test_parquet_schema_facet_is_the_files_columns_and_types(
    sandbox: CallbellSandbox, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    sandbox.add_contact(name="Zoë", loyaltyTier="gold")

    lineage = export_lineage(tmp_path, "contacts.parquet")

    assert declared_schema(lineage) == PARQUET_TYPES
    assert [name for name, _ in PARQUET_TYPES] == pq.read_schema(tmp_path / "contacts.parquet").names


def test_parquet_schema_facet_with_fields(sandbox: CallbellSandbox, tmp_path: Path) -> None:
    lineage = export_lineage(tmp_path, "contacts.parquet", fields="uuid, closedAt, tags, team, loyaltyTier")

    assert declared_schema(lineage) == [
        ("uuid", "string"),
        ("closedAt", "timestamp[us, tz=UTC]"),
        ("tags", "list<string>"),
        ("team", "json"),
        ("loyaltyTier", "json"),
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_json_schema_facet_is_the_documented_keys_then_those_callbell_added(
    sandbox: CallbellSandbox, tmp_path: Path, suffix: str
) -> None:
    sandbox.add_contact(name="Zoë", loyaltyTier="gold")

    lineage = export_lineage(tmp_path, f"contacts{suffix}")

    documented = [(name, JSON_TYPES.get(name, "string")) for name, _ in PARQUET_TYPES[:-1]]
    assert declared_schema(lineage) == [*documented, ("loyaltyTier", "json")]


def test_csv_schema_facet_is_text_columns(sandbox: CallbellSandbox, tmp_path: Path) -> None:
    lineage = export_lineage(tmp_path, "contacts.csv", fields=["uuid", "createdAt", "tags"])

    assert declared_schema(lineage) == [("uuid", "string"), ("createdAt", "string"), ("tags", "string")]


OPENLINEAGE_RUN = """
from pathlib import Path
from tests.dag_runs import run_task
from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator
result = run_task(CallbellListContactsOperator, {kwargs!r}, Path({sink!r}))
Path({sink!r}, "state").write_text(result.state)
"""


def emitted_events(output: str) -> list[dict[str, Any]]:
    """The OpenLineage events the console transport logged, one a line after the log prefix."""
    decoder = json.JSONDecoder()
    return [
        decoder.raw_decode(line[line.index('{"eventTime"') :])[0]
        for line in output.splitlines()
        if '{"eventTime"' in line
    ]


@pytest.mark.usefixtures("airflow_db")
def test_the_listener_emits_the_schema_facet(sandbox: CallbellSandbox, tmp_path: Path) -> None:
    """A real DAG run in a process whose OpenLineage provider sends events to the console.

    A fresh process, since the provider reads its configuration once per process and caches it.
    The run's state comes back in a file: on Airflow 2.11 the listener's forked processes share the
    run's stdout, and a printed state once went missing from it in CI.
    """
    sandbox.add_contact(name="Zoë", loyaltyTier="gold")
    target = tmp_path / "contacts.parquet"
    script = OPENLINEAGE_RUN.format(kwargs={"output_path": str(target)}, sink=str(tmp_path / "sink"))
    env = {**os.environ, "AIRFLOW__OPENLINEAGE__TRANSPORT": '{"type": "console"}'}

    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, timeout=240
    )

    assert (tmp_path / "sink" / "state").read_text() == "success", run.stdout[-3000:]
    (complete,) = [
        event
        for event in emitted_events(run.stdout + run.stderr)
        if event["eventType"] == "COMPLETE" and event["job"]["name"].endswith(".under_test")
    ]
    (output,) = complete["outputs"]
    assert (output["namespace"], output["name"]) == ("file", str(target).lstrip("/"))
    fields = output["facets"]["schema"]["fields"]
    assert [(field["name"], field["type"]) for field in fields] == PARQUET_TYPES
