"""Input files of the upsert and send operators: no file, a file changed while read, or written
oddly, fails before any request or write, naming input_path and the cause."""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_callbell.exports import readers
from airflow_provider_callbell.operators.messages import CallbellSendMessageOperator
from airflow_provider_callbell.sandbox import CallbellSandbox
from airflow_provider_callbell.upserts import runner
from tests.conftest import SandboxFactory, connect
from tests.dag_runs import run_task
from tests.operators.test_upsert_contacts import upsert


@pytest.fixture
def account(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    sandbox = sandbox_factory(contacts=12, seed=5)
    connect(monkeypatch, sandbox, max_requests_per_second=5000)
    return sandbox


def lines(*rows: dict[str, Any]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def test_a_file_rewritten_between_the_upserts_passes_fails_before_any_write(
    account: CallbellSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = (contact["uuid"] for contact in account.contacts()[:2])
    path = tmp_path / "rows.jsonl"
    path.write_text(lines({"uuid": first, "tags": ["checked"]}))
    look = runner.Upsert._walk_is_cheaper

    def rewritten_first(upsert: runner.Upsert, lookups: int) -> bool:  # the request between the passes
        path.write_text(
            lines({"uuid": first, "tags": ["unchecked"]}, {"uuid": second, "tags": "x"}) + "{bad\n"
        )
        return look(upsert, lookups)

    monkeypatch.setattr(runner.Upsert, "_walk_is_cheaper", rewritten_first)
    before = account.contacts()

    with pytest.raises(
        ValueError, match=f"^input_path '{path}' changed while it was read: write it atomically"
    ):
        upsert(input_path=str(path))

    assert account.contacts() == before
    assert set(account.stats.by_method) == {"GET"}


@pytest.mark.usefixtures("airflow_db")
def test_a_file_rewritten_between_the_sends_passes_fails_before_any_send(
    sandbox_factory: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = sandbox_factory(contacts=8, seed=3)
    connect(monkeypatch, account, max_requests_per_second=2000)
    recipient = next(c for c in account.contacts() if c["source"] == "whatsapp")
    account.receive_message(recipient["uuid"])
    path = tmp_path / "batch.jsonl"
    path.write_text(lines({"to": recipient["phoneNumber"]}))
    read = readers.read_rows
    passes = 0

    def rewritten_after_the_first_pass(*args: Any) -> Iterator[dict[str, Any]]:
        nonlocal passes
        yield from read(*args)
        passes += 1
        if passes == 1:
            path.write_text(lines({"to": recipient["phoneNumber"], "text": "unchecked"}, {"to": "x"}))

    monkeypatch.setattr(readers, "read_rows", rewritten_after_the_first_pass)

    result = run_task(CallbellSendMessageOperator, {"input_path": str(path), "text": "hi"}, tmp_path)

    assert result.state == "failed"
    assert [m for m in account.messages() if m["direction"] == "outbound"] == []


def _fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (Path.mkdir, "names a directory"),
        (lambda path: None, "names nothing"),
        (lambda path: path.symlink_to(path), "names a loop of symbolic links"),
        (_fifo, "names a FIFO, a device or a socket"),
    ],
    ids=["directory", "missing", "link loop", "fifo"],
)
def test_an_input_path_naming_no_file_fails_before_any_request(
    account: CallbellSandbox, tmp_path: Path, make: Any, problem: str
) -> None:
    path = tmp_path / "rows.jsonl"
    make(path)
    send = CallbellSendMessageOperator(task_id="send", input_path=str(path), text="hi")

    with pytest.raises(ValueError, match=f"^input_path '{path}' {problem}"):
        upsert(input_path=str(path))
    with pytest.raises(ValueError, match=f"^input_path '{path}' {problem}"):
        send._batch()
    assert account.stats.total_requests == 0


DEEP = "{" + '"a": {' * 1000 + "}" * 1001


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("rows.jsonl", '{"uuid": "UUID", "customFields": ' + DEEP + "}\n", "line 1: nested too deeply"),
        ("rows.csv", "UUID,tags\r\nUUID,hot\r\n", "line 1: the column 'UUID' is not 'uuid'"),
        ("rows.csv", "uuid;tags\r\nUUID;hot\r\n", "line 1: the column 'uuid;tags' runs 'uuid' together"),
        (
            "phones.csv",
            "Phone Number,phonenumber\r\nPHONE,PHONE\r\n",
            "line 1: the column 'phonenumber' is not",
        ),
    ],
    ids=["nested", "case", "semicolons", "phone"],
)
def test_a_file_that_cannot_be_read_as_rows_fails_before_any_request(
    account: CallbellSandbox, tmp_path: Path, name: str, data: str, problem: str
) -> None:
    contact = account.contacts()[0]
    path = tmp_path / name
    path.write_text(
        data.replace("UUID,hot", f"{contact['uuid']},hot").replace("PHONE", contact["phoneNumber"])
    )
    match_on = "phone" if name == "phones.csv" else "uuid"

    with pytest.raises(ValueError, match=f"^{path}: {problem}"):
        upsert(input_path=str(path), match_on=match_on)
    assert account.stats.total_requests == 0


@pytest.mark.parametrize("suffix", ["jsonl", "json"])
def test_json_with_a_byte_order_mark_upserts_as_csv_does(
    account: CallbellSandbox, tmp_path: Path, suffix: str
) -> None:
    target = account.contacts()[0]
    row = {"uuid": target["uuid"], "note": "from a spreadsheet"}
    path = tmp_path / f"rows.{suffix}"
    path.write_bytes(codecs.BOM_UTF8 + (lines(row) if suffix == "jsonl" else json.dumps([row])).encode())

    assert upsert(input_path=str(path))["updated"] == 1
    assert account.get_contact(target["uuid"])["note"] == "from a spreadsheet"


def test_a_send_batch_whose_header_spells_to_otherwise_fails_before_any_send(
    account: CallbellSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "batch.csv"
    path.write_text("To,text\r\n+39 333 000 1111,hi\r\n")

    with pytest.raises(ValueError, match=r"batch\.csv: line 1: the column 'To' is not 'to', the column rows"):
        CallbellSendMessageOperator(task_id="send", input_path=str(path), text="hi")._batch()
    assert ObjectStoragePath(str(path)).exists()
