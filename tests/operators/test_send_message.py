"""CallbellSendMessageOperator in real DAG runs: each row once, across retries, with deliveries."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator
from airflow_provider_callbell.operators.messages import CallbellSendMessageOperator
from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.conftest import SandboxFactory, connect
from tests.dag_runs import DagResult, run_task

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture
def account(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    sandbox = sandbox_factory(contacts=60, seed=21, message_status_interval=0.05)
    connect(monkeypatch, sandbox, max_requests_per_second=2000)
    return sandbox


def run(tmp_path: Path, **kwargs: Any) -> DagResult:
    return run_task(CallbellSendMessageOperator, kwargs, tmp_path)


def whatsapp(sandbox: CallbellSandbox, count: int, *, open_window: bool = True) -> list[dict[str, Any]]:
    contacts = [c for c in sandbox.contacts() if c["source"] == "whatsapp"][:count]
    for contact in contacts:
        if open_window:
            sandbox.receive_message(contact["uuid"])
        else:
            sandbox.close_window(contact["uuid"])
    return contacts


def outbound(sandbox: CallbellSandbox) -> list[dict[str, Any]]:
    return [m for m in sandbox.messages() if m["direction"] == "outbound"]


def template(sandbox: CallbellSandbox, placeholders: int) -> str:
    uuid: str = next(
        t["uuid"]
        for t in sandbox.templates
        if t["status"] == "approved" and t["text"].count("{{") == placeholders
    )
    return uuid


def test_one_message(account: CallbellSandbox, tmp_path: Path) -> None:
    (contact,) = whatsapp(account, 1)

    result = run(tmp_path, to=contact["phoneNumber"], text="Ciao {{ params.get('who', 'Ada') }}")

    assert result.state == "success"
    (sent,) = outbound(account)
    assert sent["content"] == {"text": "Ciao Ada"}
    assert sent["metadata"]["idempotency_key"].startswith("airflow-")
    assert result.returned["sent"] == 1
    assert result.returned["messages"] == [
        {"row": 1, "uuid": sent["uuid"], "status": "enqueued", "error": None}
    ]


def test_a_retried_batch_sends_each_row_once(account: CallbellSandbox, tmp_path: Path) -> None:
    """Row 2's customer has not written for a day: its free text fails the task, which is retried;
    the retry skips rows 1 and 3, sent by the first try, and fails row 2 again with the advice."""
    first, third = whatsapp(account, 2)
    (closed,) = [
        c for c in whatsapp(account, 3, open_window=False) if c["uuid"] not in (first["uuid"], third["uuid"])
    ]
    for contact in (first, third):
        account.receive_message(contact["uuid"])
    rows = [{"to": c["phoneNumber"]} for c in (first, closed, third)]

    result = run(tmp_path, messages=rows, text="Offerta", retries=1, retry_delay=datetime.timedelta(0))

    assert result.state == "failed"
    assert sorted(m["contactUuid"] for m in outbound(account)) == sorted([first["uuid"], third["uuid"]])


def test_a_batch_of_templates_with_row_values(account: CallbellSandbox, tmp_path: Path) -> None:
    contacts = whatsapp(account, 3, open_window=False)
    rows = [
        {"phoneNumber": c["phoneNumber"], "template_values": [c["name"]], "name": c["name"]} for c in contacts
    ]

    result = run(tmp_path, messages=rows, template_uuid=template(account, 1), metadata={"campaign": "nov"})

    assert result.state == "success"
    assert result.returned["sent"] == 3
    sent = outbound(account)
    assert sorted(m["templateValues"][0] for m in sent) == sorted(c["name"] for c in contacts)
    assert all(m["metadata"]["campaign"] == "nov" for m in sent)


@pytest.mark.parametrize("deferrable", [False, True])
def test_waiting_for_delivery(account: CallbellSandbox, tmp_path: Path, deferrable: bool) -> None:
    contacts = whatsapp(account, 3)
    account.make_unreachable(contacts[1]["phoneNumber"])
    rows = [{"to": c["phoneNumber"]} for c in contacts]
    kwargs = {"messages": rows, "text": "Ciao", "wait_for_delivery": True, "poll_interval": 0.05}

    failed = run(tmp_path, **kwargs, deferrable=deferrable)
    tolerant = run(tmp_path / "again", **kwargs, deferrable=deferrable, max_failures=1)

    assert failed.state == "failed"
    assert tolerant.state == "success"
    statuses = [row["status"] for row in tolerant.returned["messages"]]
    assert statuses[1] == "failed"
    assert {statuses[0], statuses[2]} <= {"delivered", "read"}
    assert tolerant.returned["failed"] == 1


def test_the_last_look_at_the_statuses_comes_at_the_deadline(
    account: CallbellSandbox, tmp_path: Path
) -> None:
    """A poll_interval longer than delivery_timeout: the task waits out the timeout and looks once
    more, which finds the message read (after 3 status steps of 0.05 s), rather than giving up
    after the first look."""
    (contact,) = whatsapp(account, 1)
    kwargs = {"to": contact["phoneNumber"], "text": "Ciao", "wait_for_delivery": True, "deferrable": False}

    result = run(tmp_path, **kwargs, poll_interval=3600, delivery_timeout=0.5)

    assert result.state == "success"
    assert result.returned["messages"][0]["status"] == "read"
    account.configure(message_status_interval=3600)
    account.receive_message(contact["uuid"])
    pending = run(tmp_path / "pending", **kwargs, poll_interval=3600, delivery_timeout=0.3)
    assert pending.state == "failed"


def test_an_exported_segment_is_a_batch(account: CallbellSandbox, tmp_path: Path) -> None:
    segment = whatsapp(account, 4)
    for contact in segment:
        account.update_contact(contact["uuid"], tags=["hot"])
    exported = tmp_path / "hot.csv"
    CallbellListContactsOperator(task_id="export", tags="hot", output_path=str(exported)).execute({})

    result = run(tmp_path, input_path=str(exported), text="Per te")

    assert result.returned["sent"] == 4
    assert sorted(m["contactUuid"] for m in outbound(account)) == sorted(c["uuid"] for c in segment)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "x"}, "give one of to .*, messages or input_path"),
        ({"to": "+39 100 000 0001", "messages": [], "text": "x"}, "give one of"),
        ({"to": "+39 100 000 0001"}, "needs text, template_uuid or media_url"),
        ({"to": "not a number", "text": "x"}, "to must be a phone number"),
        ({"messages": [], "template_values": ["a"]}, "template_values need template_uuid"),
        ({"messages": [], "text": "x", "metadata": "nope"}, "metadata must be a mapping"),
        (
            {"to": "+39 100 000 0001", "text": "x", "wait_for_delivery": True, "poll_interval": 0},
            "poll_interval must be a number from",
        ),
        (
            {"to": "+39 100 000 0001", "text": "x", "poll_interval": 5},
            "poll_interval and delivery_timeout need wait_for_delivery=True",
        ),
        (
            {"to": "+39 100 000 0001", "text": "x", "delivery_timeout": 60, "deferrable": True},
            "poll_interval and delivery_timeout need wait_for_delivery=True",
        ),
        (
            {"to": "+39 100 000 0001", "text": "x", "wait_for_delivery": "yes"},
            "wait_for_delivery must be True or False",
        ),
        ({"input_path": "/x.xlsx", "text": "x"}, "input_path"),
    ],
)
def test_bad_arguments_fail_at_parse_time(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"CallbellSendMessageOperator 'send': .*{message}"):
        CallbellSendMessageOperator(task_id="send", **kwargs)


def test_each_row_once_on_a_live_account_that_loses_answers(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Customers write all the time (contacts move to the top), a third of the answers to writes
    are lost after the write was applied and some requests fail: every row's message arrives
    exactly once."""
    account = sandbox_factory(
        contacts=200,
        seed=5,
        events_per_second=200,
        event_mix={"message": 1.0},
        lost_reply_rate=0.3,
        error_rate=0.1,
        throttle_rate=0.1,
        max_faults_per_request=2,
    )
    connect(monkeypatch, account, max_requests_per_second=2000)
    recipients = [c for c in account.contacts() if c["source"] == "whatsapp"][:20]
    rows = [{"to": c["phoneNumber"], "template_values": [c["name"]]} for c in recipients]

    result = run(tmp_path, messages=rows, template_uuid=template(account, 1), concurrency=8)

    assert result.state == "success"
    assert result.returned["sent"] == 20
    sent = sorted(m["contactUuid"] for m in outbound(account))
    assert sent == sorted(c["uuid"] for c in recipients)
    assert account.stats.faults.get("lost_reply", 0) >= 3


MAPPED_DAG = """\
import datetime
from airflow.providers.common.compat.sdk import DAG, task
from airflow_provider_callbell.operators.messages import CallbellSendMessageOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
    @task
    def row(to):
        return {{"to": to, "text": "hello " + to[-4:]}}

    CallbellSendMessageOperator(task_id="send", messages=row.expand(to={numbers!r}))
"""


def test_a_batch_of_a_mapped_upstream_tasks_rows(account: CallbellSandbox) -> None:
    """``messages=row.expand(...)``: Airflow gives the operator the mapped task's lazy sequence
    of results, not a list."""
    import os
    import runpy
    import uuid

    from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

    recipients = whatsapp(account, 3)
    dag_id = f"test_mapped_{uuid.uuid4().hex[:8]}"
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    numbers = [c["phoneNumber"] for c in recipients]
    dag_file.write_text(MAPPED_DAG.format(dag_id=dag_id, numbers=numbers))
    try:
        dag = runpy.run_path(str(dag_file))["dag"]
        when = datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC)
        run_ = dag.test(**{"logical_date" if AIRFLOW_V_3_0_PLUS else "execution_date": when})
    finally:
        dag_file.unlink()

    assert str(run_.state) in ("success", "DagRunState.SUCCESS")
    sent = {m["contactUuid"]: m["content"]["text"] for m in outbound(account)}
    assert sent == {c["uuid"]: "hello " + c["phoneNumber"][-4:] for c in recipients}


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_batch_file_may_give_each_rows_channel_as_text(
    account: CallbellSandbox, tmp_path: Path, suffix: str
) -> None:
    """``channel`` is an object in an export but a type in a message row: a text cell is the type."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    recipients = whatsapp(account, 2)
    rows = {"to": [c["phoneNumber"] for c in recipients], "channel": ["whatsapp", None]}
    path = tmp_path / f"batch.{suffix}"
    if suffix == "csv":
        path.write_text(
            "to,channel\n" + "".join(f"{to},{ch or ''}\n" for to, ch in zip(*rows.values(), strict=True))
        )
    else:
        pq.write_table(pa.table(rows), path)

    result = run(tmp_path, input_path=str(path), text="hi", channel="telegram")

    assert result.returned["sent"] == 2
    sent = {m["contactUuid"]: m["from"] for m in outbound(account)}
    assert sent == {recipients[0]["uuid"]: "whatsapp", recipients[1]["uuid"]: "telegram"}


def test_a_batch_file_that_cannot_be_read_fails_before_any_send(
    account: CallbellSandbox, tmp_path: Path
) -> None:
    first, second = (json.dumps({"to": c["phoneNumber"]}) for c in whatsapp(account, 2))
    path = tmp_path / "batch.jsonl"
    path.write_text(f"{first}\n{second}\n{{bad\n")

    result = run(tmp_path, input_path=str(path), text="hi", max_failures=5)

    assert result.state == "failed"
    assert outbound(account) == []


def test_waits_may_be_given_as_timedeltas() -> None:
    operator = CallbellSendMessageOperator(
        task_id="send",
        to="+39 333 000 1111",
        text="hi",
        wait_for_delivery=True,
        poll_interval=datetime.timedelta(seconds=30),
        delivery_timeout=datetime.timedelta(hours=2),
    )
    assert (operator.poll_interval, operator.delivery_timeout) == (30.0, 7200.0)


def test_an_empty_batch_sends_nothing_and_says_so(
    account: CallbellSandbox,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run(tmp_path, messages=[], text="hi")

    assert (result.state, result.returned["sent"], outbound(account)) == ("success", 0, [])
    output = capsys.readouterr()
    assert "The batch holds no rows: nothing was sent" in caplog.text + output.out + output.err
