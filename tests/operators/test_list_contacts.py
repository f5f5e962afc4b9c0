"""CallbellListContactsOperator in real DAG runs (``dag.test()``) against the sandbox."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_callbell.exports.schema import cell
from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator
from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.conftest import SandboxFactory, connect
from tests.dag_runs import NOT_RETURNED, DagResult, run_task

pytestmark = pytest.mark.usefixtures("airflow_db")

TOKEN = "cb-operator-secret-51c0"


@pytest.fixture
def accounts(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    """A sandbox of 230 contacts behind callbell_default, with retries fast enough for tests."""
    sandbox = sandbox_factory(contacts=230, seed=5, token=TOKEN)
    connect(monkeypatch, sandbox, max_requests_per_second=2000)
    return sandbox


def run(tmp_path: Path, **kwargs: Any) -> DagResult:
    return run_task(CallbellListContactsOperator, kwargs, tmp_path)


def lowered(contact: dict[str, Any]) -> set[str]:
    return {tag.lower() for tag in contact.get("tags") or []}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def as_cells(contact: dict[str, Any], columns: list[str]) -> dict[str, str]:
    return {column: cell(contact.get(column)) or "" for column in columns}


def test_xcom_mode_returns_the_contacts(accounts: CallbellSandbox, tmp_path: Path) -> None:
    result = run(tmp_path, tags="lead")

    expected = [contact for contact in accounts.contacts() if "lead" in lowered(contact)]
    assert result.state == "success"
    assert result.returned == expected
    assert len(expected) > 5


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".json"])
def test_json_files(accounts: CallbellSandbox, tmp_path: Path, suffix: str) -> None:
    target = tmp_path / "out" / f"contacts{suffix}"

    result = run(tmp_path, output_path=str(target))

    text = target.read_text(encoding="utf-8")
    contacts = json.loads(text) if suffix == ".json" else [json.loads(line) for line in text.splitlines()]
    assert contacts == accounts.contacts()
    fmt = "json" if suffix == ".json" else "jsonl"
    assert result.returned == {"path": str(target), "count": 230, "format": fmt}


def test_csv_round_trips_every_value(accounts: CallbellSandbox, tmp_path: Path) -> None:
    nasty = 'Bianchi, "Gigi"\nsecond line, ünïcode'
    accounts.add_contact(name=nasty, note=nasty, customFields={"Address": nasty}, loyaltyTier="gold")
    target = tmp_path / "contacts.csv"

    run(tmp_path, output_path=str(target))

    rows = read_csv(target)
    columns = list(rows[0])
    assert columns[:3] == ["uuid", "name", "phoneNumber"]
    assert columns[-1] == "loyaltyTier"
    assert rows == [as_cells(contact, columns) for contact in accounts.contacts()]
    assert rows[0]["name"] == rows[0]["note"] == nasty
    assert json.loads(rows[0]["customFields"]) == {"Address": nasty}
    assert json.loads(rows[1]["tags"]) == accounts.contacts()[1]["tags"]


def test_csv_with_fields_has_those_columns(accounts: CallbellSandbox, tmp_path: Path) -> None:
    target = tmp_path / "contacts.csv"

    run(tmp_path, output_path=str(target), fields="uuid, name, tags, customFields")

    rows = read_csv(target)
    assert list(rows[0]) == ["uuid", "name", "tags", "customFields"]
    assert rows == [as_cells(contact, list(rows[0])) for contact in accounts.contacts()]


def test_output_format_beats_the_suffix(accounts: CallbellSandbox, tmp_path: Path) -> None:
    target = tmp_path / "contacts.txt"

    result = run(tmp_path, output_path=str(target), output_format="csv", fields=["uuid"])

    assert result.returned["format"] == "csv"
    assert target.read_text().splitlines()[0] == "uuid"


def test_file_url_output(accounts: CallbellSandbox, tmp_path: Path) -> None:
    target = tmp_path / "by-url" / "contacts.jsonl"

    result = run(tmp_path, output_path=f"file://{target}", source="whatsapp")

    lines = target.read_text().splitlines()
    assert result.returned["count"] == len(lines) > 0
    assert all(json.loads(line)["source"] == "whatsapp" for line in lines)


@pytest.mark.parametrize(
    ("kwargs", "keep"),
    [
        ({"source": "instagram"}, lambda c: c.get("source") == "instagram"),
        ({"tags": ["VIP", "lead"]}, lambda c: bool(lowered(c) & {"vip", "lead"})),
        ({"tags": "vip,lead", "tags_match": "all"}, lambda c: {"vip", "lead"} <= lowered(c)),
        (
            {"tags": "customer", "source": "whatsapp"},
            lambda c: "customer" in lowered(c) and c["source"] == "whatsapp",
        ),
    ],
)
def test_filters(
    accounts: CallbellSandbox, tmp_path: Path, kwargs: dict[str, Any], keep: Callable[[dict[str, Any]], bool]
) -> None:
    result = run(tmp_path, **kwargs)

    expected = [contact for contact in accounts.contacts() if keep(contact)]
    assert expected
    assert result.returned == expected


def test_team_filter(accounts: CallbellSandbox, tmp_path: Path) -> None:
    team = accounts.teams[0]["uuid"]

    result = run(tmp_path, team_uuid=team)

    assert result.returned
    assert result.returned == [c for c in accounts.contacts() if (c.get("team") or {}).get("uuid") == team]


def test_tags_all_is_enforced_even_when_the_server_means_any(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(contacts=230, seed=5, tags_semantics="any")

    result = run(tmp_path, tags=["lead", "vip"], tags_match="all")

    assert result.returned == [c for c in sandbox.contacts() if {"lead", "vip"} <= lowered(c)]


def test_projection_and_max_contacts(accounts: CallbellSandbox, tmp_path: Path) -> None:
    result = run(tmp_path, fields=["uuid", "createdAt", "nonexistent"], max_contacts="{{ 3 * 4 }}")

    assert result.returned == [
        {"uuid": c["uuid"], "createdAt": c["createdAt"], "nonexistent": None}
        for c in accounts.contacts()[:12]
    ]


def test_incremental_window_is_the_data_interval(accounts: CallbellSandbox, tmp_path: Path) -> None:
    for day in (22, 23, 24):
        accounts.add_contact(name=f"Lead of the {day}th", createdAt=f"2026-11-{day}T09:30:00Z")

    result = run(
        tmp_path,
        created_after="{{ data_interval_start }}",
        created_before="{{ data_interval_start + macros.timedelta(days=1) }}",
        output_path=str(tmp_path / "{{ ds }}" / "contacts.jsonl"),
    )

    assert result.state == "success"
    assert result.data_interval_start is not None
    written = Path(result.returned["path"])
    assert written.parent.name == "2026-11-23"
    names = [json.loads(line)["name"] for line in written.read_text().splitlines()]
    assert names == [f"Lead of the {result.data_interval_start.day}th"]


def test_created_window_over_years(accounts: CallbellSandbox, tmp_path: Path) -> None:
    after, before = datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)

    result = run(tmp_path, created_after=after, created_before="2024-01-01T00:00:00+00:00")

    def created(contact: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(contact["createdAt"])

    expected = [c for c in accounts.contacts() if "createdAt" in c and after <= created(c) < before]
    assert 0 < len(expected) < 230
    assert result.returned == expected


def test_xcom_guard_says_to_use_output_path(
    accounts: CallbellSandbox, tmp_path: Path, logs: Callable[[], str]
) -> None:
    result = run(tmp_path, max_xcom_contacts=100)

    text = logs()
    assert result.state == "failed"
    assert result.returned is NOT_RETURNED
    assert "More than max_xcom_contacts=100 contacts match" in text
    assert "set output_path to write them to a file" in text


def test_exact_under_faults_with_concurrency(
    sandbox_factory: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory(
        contacts=400,
        seed=9,
        page_size=10,
        page_cap=12,
        error_rate=0.1,
        throttle_rate=0.1,
        drop_rate=0.05,
        truncate_rate=0.05,
    )
    connect(monkeypatch, sandbox, max_retries=8)
    target = tmp_path / "contacts.jsonl"

    result = run(tmp_path, output_path=str(target), concurrency=6)

    assert result.state == "success"
    assert [json.loads(line) for line in target.read_text().splitlines()] == sandbox.contacts()
    assert sum(sandbox.stats.faults.values()) > 10


def test_failed_export_keeps_the_previous_file_and_leaves_no_partial(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox_factory(contacts=300, page_size=10, pagination="meta", page_cap=8)
    target = tmp_path / "exports" / "contacts.jsonl"
    target.parent.mkdir()
    target.write_text('{"uuid": "yesterday"}\n')

    result = run(tmp_path, output_path=str(target))

    assert result.state == "failed"
    assert target.read_text() == '{"uuid": "yesterday"}\n'
    assert sorted(path.name for path in target.parent.iterdir()) == ["contacts.jsonl"]


def test_failed_first_export_leaves_nothing(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox_factory(contacts=300, page_size=10, pagination="meta", page_cap=8)
    target = tmp_path / "exports" / "contacts.csv"

    result = run(tmp_path, output_path=str(target))

    assert result.state == "failed"
    assert list(target.parent.iterdir()) == []


def test_token_absent_from_logs_xcom_and_files(
    accounts: CallbellSandbox, tmp_path: Path, logs: Callable[[], str]
) -> None:
    for number, fmt in enumerate(("jsonl", "csv", "parquet")):
        target = tmp_path / f"contacts.{fmt}"
        result = run(tmp_path / str(number), output_path=str(target), include_field_types=True)
        assert TOKEN.encode() not in target.read_bytes()
        assert TOKEN not in json.dumps(result.returned)
    listed = run(tmp_path / "xcom", tags="lead")

    assert TOKEN not in json.dumps(listed.returned)
    text = logs()
    assert "Listed" in text
    assert TOKEN not in text
