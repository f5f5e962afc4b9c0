"""CallbellNotifier from real callbacks (a DAG run whose task fails), and awaited."""

from __future__ import annotations

import asyncio
import os
import runpy
import uuid
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_provider_callbell.notifications.callbell import CallbellNotifier, send_callbell_notification
from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.conftest import SandboxFactory, connect

DAG_FILE = """\
import datetime
from airflow.providers.common.compat.sdk import DAG, task
from airflow_provider_callbell.notifications.callbell import send_callbell_notification

with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
    @task(on_failure_callback=send_callbell_notification(to={to!r}, **{kwargs!r}))
    def load_scores():
        raise RuntimeError("the warehouse is down")

    load_scores()
"""


@pytest.fixture
def account(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    sandbox = sandbox_factory(contacts=30, seed=4)
    connect(monkeypatch, sandbox)
    return sandbox


def on_call(sandbox: CallbellSandbox, count: int) -> list[dict[str, Any]]:
    """WhatsApp contacts whose customers wrote just now: free text reaches them."""
    contacts = [c for c in sandbox.contacts() if c["source"] == "whatsapp"][:count]
    for contact in contacts:
        sandbox.receive_message(contact["uuid"])
    return contacts


def texts(sandbox: CallbellSandbox) -> list[str]:
    return [m["content"].get("text", "") for m in sandbox.messages() if m["direction"] == "outbound"]


def failing_run(to: list[str], **kwargs: Any) -> str:
    dag_id = f"notify_{uuid.uuid4().hex[:8]}"
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    dag_file.write_text(DAG_FILE.format(dag_id=dag_id, to=to, kwargs=kwargs))
    try:
        dag = runpy.run_path(str(dag_file))["dag"]
        dag.test()
    finally:
        dag_file.unlink()
    return dag_id


@pytest.mark.usefixtures("airflow_db")
def test_a_failed_task_messages_the_people_on_call(account: CallbellSandbox) -> None:
    people = on_call(account, 2)

    dag_id = failing_run(
        [person["phoneNumber"] for person in people], text="{{ ti.task_id }} failed in {{ dag.dag_id }}"
    )

    assert texts(account) == [f"load_scores failed in {dag_id}"] * 2
    recipients = {m["contactUuid"] for m in account.messages() if m["direction"] == "outbound"}
    assert recipients == {person["uuid"] for person in people}


@pytest.mark.usefixtures("airflow_db")
def test_the_default_text_names_dag_task_and_state(account: CallbellSandbox) -> None:
    (person,) = on_call(account, 1)

    dag_id = failing_run([person["phoneNumber"]])

    (text,) = texts(account)
    assert text.startswith(f"Airflow: DAG {dag_id}, task load_scores is failed (run ")


def test_awaited_with_a_template(account: CallbellSandbox) -> None:
    (person,) = on_call(account, 1)
    account.close_window(person["uuid"])
    template = next(t for t in account.templates if t["status"] == "approved" and t["text"].count("{{") == 1)
    notifier = CallbellNotifier(
        to=person["phoneNumber"], template_uuid=template["uuid"], template_values=["{{ run_id }}"]
    )
    context: Any = {"run_id": "scheduled__2026-11-25", "dag": None}
    notifier.context = context

    async def notify() -> None:
        if AIRFLOW_V_3_0_PLUS:
            await notifier  # as Airflow 3 awaits notifiers, for deadline alerts
        else:
            notifier.render_template_fields(context)
            await notifier.async_notify(context)

    asyncio.run(notify())

    (sent,) = [m for m in account.messages() if m["direction"] == "outbound"]
    assert (sent["templateUuid"], sent["templateValues"]) == (template["uuid"], ["scheduled__2026-11-25"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"to": "nobody"}, "to must be non-blank|phone number"),
        ({"to": []}, "to must name at least one"),
        ({"to": "+39 333 000 0000", "template_values": ["x"]}, "template_values need template_uuid"),
        ({"to": "+39 333 000 0000", "metadata": {"idempotency_key": "x"}}, "other than 'idempotency_key'"),
        (
            {"to": "+39 333 000 0000", "callbell_conn_id": ""},
            "callbell_conn_id must be an Airflow connection id",
        ),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        send_callbell_notification(**kwargs)


def test_templated_recipients_are_checked_once_rendered() -> None:
    assert CallbellNotifier(to="{{ var.value.on_call }}").to == "{{ var.value.on_call }}"


@pytest.mark.parametrize("awaited", [False, True])
def test_a_refused_recipient_does_not_keep_the_message_from_the_next(
    account: CallbellSandbox,
    awaited: bool,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airflow_provider_callbell.exceptions import CallbellError

    outside, inside = on_call(account, 2)
    account.close_window(outside["uuid"])
    notifier = CallbellNotifier(to=[outside["phoneNumber"], inside["phoneNumber"]], text="the load failed")
    context: Any = {"run_id": "scheduled__2026-11-25", "dag": None}

    with pytest.raises(CallbellError, match=r"reached 1 of 2 recipients; not .*template") as caught:
        asyncio.run(notifier.async_notify(context)) if awaited else notifier.notify(context)

    output = capsys.readouterr()
    logged = caplog.text + output.out + output.err  # Airflow 3 logs through structlog, 2 through logging
    assert f"not recipient 1 (…{outside['phoneNumber'][-2:]}): " in str(caught.value)
    assert f"notification to recipient 1 (…{outside['phoneNumber'][-2:]}) failed" in logged
    assert "notification to recipient 2" not in logged
    for number in (outside["phoneNumber"], inside["phoneNumber"]):
        assert number not in str(caught.value) + logged
    (sent,) = [m for m in account.messages() if m["direction"] == "outbound"]
    assert (sent["contactUuid"], sent["content"]["text"]) == (inside["uuid"], "the load failed")
