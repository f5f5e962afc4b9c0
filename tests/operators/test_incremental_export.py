"""Incremental exports over real runs: each contact once, each run its own file.

That a cleared run writes its own window again is checked in a real deployment
(``tests/deployment``), where a run can be cleared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator
from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.conftest import SandboxFactory, connect
from tests.dag_runs import DagResult, run_task

pytestmark = pytest.mark.usefixtures("airflow_db")

FIRST_DAY = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture
def account(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    sandbox = sandbox_factory(contacts=150, seed=11)
    connect(monkeypatch, sandbox, max_requests_per_second=2000)
    return sandbox


def export(tmp_path: Path, when: datetime, key: str, **kwargs: Any) -> DagResult:
    arguments = {
        "incremental": True,
        "watermark_key": key,
        "output_path": str(tmp_path / "contacts" / "{{ run_id }}.jsonl"),
        **kwargs,
    }
    return run_task(CallbellListContactsOperator, arguments, tmp_path / "sink", when=when)


def exported(result: DagResult) -> list[str]:
    lines = Path(result.returned["path"]).read_text().splitlines()
    return [json.loads(line)["uuid"] for line in lines]


def created_after(mark: str, seconds: float) -> str:
    moment = datetime.fromisoformat(mark) + timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


def test_each_run_exports_what_is_new_since_the_last_one_into_its_own_file(
    account: CallbellSandbox, tmp_path: Path
) -> None:
    everyone = {contact["uuid"] for contact in account.contacts()}

    first = export(tmp_path, FIRST_DAY, "mark-1")
    assert first.state == "success"
    assert sorted(exported(first)) == sorted(everyone)
    assert first.returned["created_after"] is None
    mark = first.returned["created_before"]

    # contacts created after the first run's window closed (its last minute): the next run's
    late = [
        account.add_contact(name=f"Late {number}", createdAt=created_after(mark, (number + 1) / 1000))["uuid"]
        for number in range(3)
    ]
    second = export(tmp_path, FIRST_DAY + timedelta(days=1), "mark-1")
    assert second.returned["created_after"] == mark
    assert sorted(exported(second)) == sorted(late)
    assert second.returned["path"] != first.returned["path"]
    assert sorted(exported(first)) == sorted(everyone)


def test_created_after_bounds_the_first_run(account: CallbellSandbox, tmp_path: Path) -> None:
    contacts = sorted(account.contacts(), key=lambda contact: contact["createdAt"])
    middle = contacts[len(contacts) // 2]["createdAt"]

    first = export(tmp_path, FIRST_DAY, "mark-2", created_after=middle)

    assert sorted(exported(first)) == sorted(c["uuid"] for c in contacts if c["createdAt"] >= middle)
    assert len(exported(first)) < len(contacts)


def test_a_failed_run_leaves_its_contacts_to_the_next_run(account: CallbellSandbox, tmp_path: Path) -> None:
    account.configure(error_rate=1.0, max_faults_per_request=100)
    failed = export(tmp_path, FIRST_DAY, "mark-3")
    assert failed.state == "failed"
    assert not (tmp_path / "contacts").exists() or not any((tmp_path / "contacts").iterdir())
    account.configure(error_rate=0.0)

    after = export(tmp_path, FIRST_DAY + timedelta(days=1), "mark-3")

    assert after.state == "success"
    assert len(exported(after)) == len(account.contacts())


def test_a_templated_watermark_key_is_rendered(account: CallbellSandbox, tmp_path: Path) -> None:
    """One mark per account, say: the key is rendered before the mark is read or kept."""
    from airflow.models import Variable

    first = export(tmp_path, FIRST_DAY, "{{ task.task_id }}-mark-{{ params.get('account', 'eu') }}")

    assert first.state == "success"
    assert json.loads(Variable.get("under_test-mark-eu"))
    assert Variable.get("{{ task.task_id }}-mark-{{ params.get('account', 'eu') }}", default_var=None) is None


@pytest.mark.parametrize(
    "stored",
    [
        "2026-11-01T00:00:00Z",
        "{'created_before': '2026-11-01T00:00:00Z'}",
        '{"created_before": "2026-11-01T00:00:00Z", "created_before": "2030-01-01T00:00:00Z"}',
        "[" * 100_000,
    ],
    ids=["a-moment", "python-text", "a-key-twice", "too-deep"],
)
def test_a_mark_that_is_not_json_fails_and_is_kept(
    account: CallbellSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored: str
) -> None:
    """Airflow 3 reads a Variable that is not JSON as absent: that would export everything and
    overwrite what someone stored."""
    monkeypatch.setenv("AIRFLOW_VAR_HAND_WRITTEN_MARK", stored)

    result = export(tmp_path, FIRST_DAY, "hand_written_mark")

    assert result.state == "failed"
    assert not (tmp_path / "contacts").exists()
    assert account.stats.total_requests == 0


def test_a_mark_in_the_future_exports_nothing_and_says_so(
    account: CallbellSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: Callable[[], str]
) -> None:
    """A hand-set mark, or a worker whose clock ran ahead: the contacts of now wait for it."""
    ahead = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    monkeypatch.setenv("AIRFLOW_VAR_AHEAD_MARK", json.dumps({"created_before": ahead}))
    account.add_contact(name="Created now")

    result = export(tmp_path, FIRST_DAY, "ahead_mark")

    assert result.state == "success"
    assert exported(result) == []
    said = logs()
    assert "This run exports nothing: its window starts at" in said
    assert "Variable 'ahead_mark'" in said
