"""What the operator declares to OpenLineage."""

from __future__ import annotations

import sys
from pathlib import Path

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
