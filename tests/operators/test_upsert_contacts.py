"""CallbellUpsertContactsOperator against the sandbox: only changes are written, every row reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_callbell.exceptions import CallbellAuthError
from airflow_provider_callbell.hooks.callbell import CallbellHook
from airflow_provider_callbell.operators.contacts import (
    CallbellListContactsOperator,
    CallbellUpsertContactsOperator,
)
from airflow_provider_callbell.sandbox import CallbellSandbox
from airflow_provider_callbell.upserts import runner
from tests.conftest import SandboxFactory, connect, quick_hook
from tests.live import BUSY


@pytest.fixture
def account(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    sandbox = sandbox_factory(contacts=150, seed=11)
    connect(monkeypatch, sandbox, max_requests_per_second=5000)
    return sandbox


def upsert(**kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = CallbellUpsertContactsOperator(task_id="upsert", **kwargs).execute({})
    return result


def report(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def lower(tags: list[str]) -> set[str]:
    return {tag.lower() for tag in tags}


@pytest.mark.parametrize("count", [6, 40], ids=["lookups", "walk"])
def test_export_transform_upsert_writes_only_the_changes(
    account: CallbellSandbox, tmp_path: Path, count: int
) -> None:
    """Fewer rows than the account's 8 pages: a lookup a row (after one look at the page count);
    more: one walk, and a fresh read of each contact whose tags change, fewer requests than a
    lookup a row. Either way, one PATCH a changed contact and no other write."""
    exported = tmp_path / "contacts.jsonl"
    CallbellListContactsOperator(task_id="export", output_path=str(exported)).execute({})
    rows = [json.loads(line) for line in exported.read_text().splitlines()][:count]
    hot = rows[:3]
    for row in hot:
        row["tags"] = [*row["tags"], "hot"]
        row["customFields"] = {**row["customFields"], "score": "95"}
    before = {contact["uuid"]: contact for contact in account.contacts()}
    account.reset_stats()

    result = upsert(contacts=rows, report_path=str(tmp_path / "report.jsonl"))

    assert {key: result[key] for key in runner.OUTCOMES} == {
        "created": 0,
        "updated": 3,
        "unchanged": count - 3,
        "failed": 0,
    }
    requests = account.stats.by_method
    assert set(requests) == {"GET", "PATCH"}
    assert requests["PATCH"] == 3
    assert requests["GET"] == 1 + 6 if count == 6 else requests["GET"] < 1 + count
    for row in hot:
        stored = account.get_contact(row["uuid"])
        assert lower(stored["tags"]) == lower(before[row["uuid"]]["tags"]) | {"hot"}
        assert stored["customFields"] == {**before[row["uuid"]]["customFields"], "score": "95"}
    for row in rows[3:]:
        assert account.get_contact(row["uuid"]) == before[row["uuid"]]
    lines = report(tmp_path / "report.jsonl")
    assert [line["row"] for line in lines] == list(range(1, count + 1))
    assert [line["outcome"] for line in lines[:4]] == ["updated", "updated", "updated", "unchanged"]
    assert lines[0]["changed"] == ["tags", "custom_fields"]
    assert result["report_path"] == str(tmp_path / "report.jsonl")


def test_a_second_run_changes_nothing(account: CallbellSandbox) -> None:
    rows = [{"uuid": contact["uuid"], "tags": ["hot"]} for contact in account.contacts()[:5]]

    first = upsert(contacts=rows)
    account.reset_stats()
    second = upsert(contacts=rows)

    assert (first["updated"], second["updated"], second["unchanged"]) == (5, 0, 5)
    assert set(account.stats.by_method) == {"GET"}


def test_match_on_phone_creates_the_missing_once(account: CallbellSandbox) -> None:
    known = account.contacts()[7]
    digits = "".join(char for char in known["phoneNumber"] if char.isdigit())
    rows = [
        {"phoneNumber": f"+{digits[:2]} ({digits[2:5]}) {digits[5:]}", "note": "seen"},
        {"phoneNumber": "+39 347 555 0101", "name": "Nuova", "tags": ["hot"], "source": "instagram"},
    ]

    first = upsert(contacts=rows, match_on="phone", create_missing=True)
    count = len(account.contacts())
    second = upsert(contacts=rows, match_on="phone", create_missing=True)

    assert (first["updated"], first["created"]) == (1, 1)
    assert (second["unchanged"], second["created"], len(account.contacts())) == (2, 0, count)
    assert account.get_contact(known["uuid"])["note"] == "seen"
    (created,) = [c for c in account.contacts() if c["name"] == "Nuova"]
    assert (created["tags"], created["source"]) == (["hot"], "instagram")


def test_failed_rows_fail_the_task_after_the_rest_and_are_reported(
    account: CallbellSandbox, tmp_path: Path
) -> None:
    good, other = (contact["uuid"] for contact in account.contacts()[:2])
    rows = [
        {"uuid": "0" * 32, "tags": ["hot"]},
        {"uuid": other, "tags": ["hot"], "score": 1},
        {"uuid": good, "tags": ["hot"]},
        {"uuid": good, "note": "dup"},
    ]

    with pytest.raises(AirflowException, match=r"3 rows failed, more than max_failures=0.*report"):
        upsert(contacts=rows, report_path=str(tmp_path / "report.jsonl"))

    lines = report(tmp_path / "report.jsonl")
    assert [line["outcome"] for line in lines] == ["failed", "failed", "updated", "failed"]
    assert "no existing contact" in lines[0]["reason"]
    assert "'score'" in lines[1]["reason"]
    assert "same contact as row 3" in lines[3]["reason"]
    assert account.get_contact(good)["tags"] == ["hot"]
    assert account.get_contact(other)["tags"] != ["hot"]
    assert upsert(contacts=rows, max_failures=3)["failed"] == 3


def test_dry_run_writes_nothing(account: CallbellSandbox) -> None:
    before = account.contacts()
    rows = [{"uuid": before[0]["uuid"], "tags": ["hot"]}, {"phoneNumber": "+39 340 000 0001", "name": "N"}]

    result = upsert(contacts=rows[:1], dry_run=True)
    created = upsert(contacts=rows[1:], dry_run=True, match_on="phone", create_missing=True)

    assert (result["updated"], result["dry_run"], created["created"]) == (1, True, 1)
    assert account.contacts() == before


def test_tags_modes_on_a_live_account(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Messages move contacts, agents tag them, some are deleted while the upsert runs: every row
    whose contact is still there lands, and only deleted contacts' rows fail."""
    account = sandbox_factory(contacts=600, seed=3, latency=0.005, **BUSY)
    connect(monkeypatch, account, max_requests_per_second=5000)
    targets = [contact["uuid"] for contact in account.contacts()[::3]]
    rows = [{"uuid": uuid, "tags": ["hot"]} for uuid in targets]

    added = upsert(
        contacts=rows, tags_mode="add", max_failures=len(targets), report_path=str(tmp_path / "r.jsonl")
    )

    with account.events_paused():
        alive = [uuid for uuid in targets if uuid in {c["uuid"] for c in account.contacts()}]
        assert all("hot" in lower(account.get_contact(uuid)["tags"]) for uuid in alive)
    failed = [line for line in report(tmp_path / "r.jsonl") if line["outcome"] == "failed"]
    assert failed, "no contact was deleted during the run: the test proves less than it claims"
    gone = ("404", "names no existing contact")
    assert all(any(why in line["reason"] for why in gone) and line["uuid"] not in alive for line in failed)
    assert added["updated"] == len(targets) - len(failed)
    removed = upsert(
        contacts=[{"uuid": uuid, "tags": ["HOT"]} for uuid in alive],
        tags_mode="remove",
        max_failures=len(alive),
    )
    with account.events_paused():
        still = [uuid for uuid in alive if uuid in {c["uuid"] for c in account.contacts()}]
        assert not any("hot" in lower(account.get_contact(uuid)["tags"]) for uuid in still)
    assert removed["updated"] >= len(still)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give the rows as contacts or as input_path"),
        ({"contacts": [], "input_path": "/x.csv"}, "one of them"),
        ({"contacts": [], "match_on": "email"}, "match_on must be one of 'uuid', 'phone'"),
        ({"contacts": [], "tags_mode": "merge"}, "tags_mode must be one of 'set', 'add', 'remove'"),
        ({"contacts": [], "create_missing": True}, "create_missing=True needs match_on='phone'"),
        ({"contacts": [], "max_failures": -1}, "max_failures must be"),
        ({"contacts": [], "dry_run": "yes"}, "dry_run must be True or False"),
        ({"contacts": [], "report_path": "report.jsonl"}, "report_path must be an absolute path"),
        (
            {"contacts": [], "report_path": "/r.parquet"},
            r"report_path must end in .jsonl, .ndjson, .json or .csv",
        ),
        ({"input_path": "/rows.xlsx"}, "input_path"),
        ({"contacts": "not a list"}, "contacts must be a list, got str"),
        ({"contacts": [], "report_conn_id": "s3"}, "report_conn_id needs report_path"),
    ],
)
def test_bad_arguments_fail_at_parse_time(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"CallbellUpsertContactsOperator 'upsert': .*{message}"):
        CallbellUpsertContactsOperator(task_id="upsert", **kwargs)


@pytest.mark.parametrize("suffix", ["jsonl", "json", "csv", "parquet"])
def test_an_unchanged_export_upserts_as_nothing_to_do(
    account: CallbellSandbox, tmp_path: Path, suffix: str
) -> None:
    """Export → upsert round-trips in every format, fields Callbell added included."""
    account.add_contact(name="Zoë", loyaltyTier="gold", customFields={"città": "Torino"}, note="ciao")
    exported = tmp_path / f"contacts.{suffix}"
    CallbellListContactsOperator(task_id="export", output_path=str(exported)).execute({})
    before = account.contacts()
    account.reset_stats()

    result = upsert(input_path=f"file://{exported}")

    assert {key: result[key] for key in runner.OUTCOMES} == {
        "created": 0,
        "updated": 0,
        "unchanged": len(before),
        "failed": 0,
    }
    assert account.contacts() == before
    assert set(account.stats.by_method) == {"GET"}


def test_a_hand_written_csv_by_phone(account: CallbellSandbox, tmp_path: Path) -> None:
    targets = account.contacts()[:2]
    rows = tmp_path / "scores.csv"
    lines = ["phoneNumber,tags,customFields"]
    lines += [f'"{c["phoneNumber"]}","hot,vip","{{""score"": ""9{n}""}}"' for n, c in enumerate(targets)]
    rows.write_text("\n".join(lines) + "\n")

    result = upsert(input_path=str(rows), match_on="phone", tags_mode="add")

    assert result["updated"] == 2
    for n, contact in enumerate(targets):
        stored = account.get_contact(contact["uuid"])
        assert lower(stored["tags"]) == lower(contact["tags"]) | {"hot", "vip"}
        assert stored["customFields"]["score"] == f"9{n}"


@pytest.mark.parametrize("create_missing", [False, True])
def test_an_unchanged_export_upserts_by_phone_as_nothing_to_do(
    account: CallbellSandbox, tmp_path: Path, create_missing: bool
) -> None:
    """More rows than the account's pages: the walk finds them by number, their uuids aside."""
    exported = tmp_path / "contacts.jsonl"
    CallbellListContactsOperator(task_id="export", output_path=str(exported)).execute({})
    before = account.contacts()
    account.reset_stats()

    result = upsert(input_path=str(exported), match_on="phone", create_missing=create_missing)

    assert {key: result[key] for key in runner.OUTCOMES} == {
        "created": 0,
        "updated": 0,
        "unchanged": len(before),
        "failed": 0,
    }
    assert set(account.stats.by_method) == {"GET"}
    assert account.stats.by_method["GET"] < len(before)


def test_a_row_failing_past_every_retry_fails_alone_and_is_reported(
    account: CallbellSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every read's answer comes cut short three times; the rows' reads but the middle one's have
    had theirs already: it fails after the hook's retries, and the rows after it are still written."""
    connect(monkeypatch, account, max_requests_per_second=5000, max_retries=2)
    first, broken, last = account.contacts()[:3]
    account.configure(truncate_rate=1.0, max_faults_per_request=3)
    primer = quick_hook(max_retries=5)
    primer.request("GET", "contacts")
    for contact in (first, last):
        primer.get_contact(contact["uuid"])
    rows = [{"uuid": contact["uuid"], "note": "seen"} for contact in (first, broken, last)]

    with pytest.raises(AirflowException, match=r"1 rows failed, more than max_failures=0"):
        upsert(contacts=rows, report_path=str(tmp_path / "report.jsonl"))

    lines = report(tmp_path / "report.jsonl")
    assert [line["outcome"] for line in lines] == ["updated", "failed", "updated"]
    assert (lines[1]["uuid"], lines[1]["reason"] is not None) == (broken["uuid"], True)
    assert [account.get_contact(c["uuid"])["note"] for c in (first, last)] == ["seen", "seen"]
    assert account.get_contact(broken["uuid"])["note"] == broken["note"]
    assert upsert(contacts=rows)["updated"] == 1


def test_a_token_refused_midway_stops_the_upsert_at_once(account: CallbellSandbox) -> None:
    """Every row would fail the same way: no row after the refusal is tried."""

    class TokenRevoked(CallbellHook):
        def get_contact(self, *args: Any, **kwargs: Any) -> Any:
            account.configure(token="revoked-meanwhile")
            return super().get_contact(*args, **kwargs)

    rows = [{"uuid": contact["uuid"], "note": "seen"} for contact in account.contacts()[:5]]
    upsert = runner.Upsert(TokenRevoked(), runner.UpsertSettings(concurrency=1), lambda: rows)

    with pytest.raises(CallbellAuthError):
        list(upsert.run())

    assert upsert.counts["failed"] == 0


@pytest.mark.parametrize(("tags_mode", "tags"), [("set", ["hot"]), ("add", ["hot"]), ("remove", [])])
def test_a_created_contact_has_the_tags_its_mode_makes_of_none(
    account: CallbellSandbox, tags_mode: str, tags: list[str]
) -> None:
    row = {"phoneNumber": "+39 347 555 0199", "name": "Nuova", "tags": ["hot"]}

    result = upsert(contacts=[row], match_on="phone", create_missing=True, tags_mode=tags_mode)

    (created,) = [contact for contact in account.contacts() if contact["name"] == "Nuova"]
    assert (result["created"], created["tags"]) == (1, tags)
