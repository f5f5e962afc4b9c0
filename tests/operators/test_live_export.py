"""The operator on a live account, in every output mode: the file holds each contact once."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator
from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.conftest import SandboxFactory, connect
from tests.live import BUSY, assert_exact


@pytest.fixture
def account(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    """2,000 contacts, 10 ms a request, 400 events a second, page numbers capped at page 40."""
    sandbox = sandbox_factory(contacts=2000, seed=6, latency=0.01, page_cap=40, **BUSY)
    connect(monkeypatch, sandbox, max_requests_per_second=5000)
    return sandbox


def read(path: Path, output_format: str) -> list[str]:
    if output_format == "jsonl":
        return [json.loads(line)["uuid"] for line in path.read_text(encoding="utf-8").splitlines()]
    if output_format == "json":
        return [contact["uuid"] for contact in json.loads(path.read_text(encoding="utf-8"))]
    if output_format == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return [row["uuid"] for row in csv.DictReader(handle)]
    import pyarrow.parquet as pq

    return [str(uuid) for uuid in pq.read_table(path).column("uuid").to_pylist()]


@pytest.mark.parametrize("output_format", ["xcom", "jsonl", "json", "csv", "parquet"])
def test_every_output_mode_is_exact_while_the_account_moves(
    account: CallbellSandbox, tmp_path: Path, output_format: str
) -> None:
    target = tmp_path / f"contacts.{output_format}"
    arguments: dict[str, Any] = (
        {"max_xcom_contacts": 100_000} if output_format == "xcom" else {"output_path": str(target)}
    )
    operator = CallbellListContactsOperator(task_id="export", concurrency=8, **arguments)

    before = account.state()
    returned = operator.execute({})
    wanted = account.expected_walk(before, account.state())

    walked = (
        [contact["uuid"] for contact in returned] if output_format == "xcom" else read(target, output_format)
    )
    assert_exact(walked, wanted)
    assert wanted.moved()
