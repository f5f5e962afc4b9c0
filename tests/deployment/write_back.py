"""The hot-leads example writing back to Callbell in the deployment: upserts, template messages
awaited on the triggerer, and a page to the person on call when a task fails.

Unpausing the daily example makes the scheduler create its latest run at once; the Variables are
set before (from the CLI), with the rejected template: that run's message task fails (twice: the
example retries once), sends no template and pages the person on call once. Then a run triggered
from the REST API, with the approved template, tags and messages the three best-scored leads and
waits for the deliveries in the triggerer (the sandbox delivers in seconds meanwhile, so that
the task's one look before deferring finds them pending); cleared and run again, it sends
nothing twice.

The deployment and the live sandbox are the session's, shared with ``test_deployment.py`` in
either order: only messages sent since a run began count, and only contacts with the numbers of
the scores file. The module pauses the example, deletes its Variables and puts the sandbox's
delivery pace back when done.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_3_PLUS

from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.deployment.conftest import EXAMPLES, TOKEN
from tests.deployment.stack import Deployment, eventually

DAG_ID = "callbell_hot_leads"
TASKS = ("pick_hot_leads", "tag_hot_leads", "message_hot_leads")
MESSAGE_TASK = "message_hot_leads"
VARIABLES = ("callbell_hot_lead_template", "callbell_on_call")
ON_CALL_NUMBER = "+44 7700 900 461"
LEDGER_PREFIX = "callbell_message."
SETTLED = ("delivered", "read")


def digits(number: str | None) -> str:
    """A phone number without its formatting."""
    return "".join(char for char in number or "" if char.isdigit())


@dataclass(frozen=True)
class Lead:
    """A row of the scores file the example reads."""

    phone: str
    name: str
    score: str

    @property
    def key(self) -> str:
        return digits(self.phone)


def scored_leads() -> list[Lead]:
    """The example's scores file, best score first."""
    with (EXAMPLES / "data" / "lead_scores.csv").open(newline="", encoding="utf-8") as scores:
        rows = [Lead(row["phoneNumber"], row["name"], row["score"]) for row in csv.DictReader(scores)]
    return sorted(rows, key=lambda lead: -float(lead.score))


LEADS = scored_leads()
HOT, COLD = LEADS[:3], LEADS[3:]


def lead_contacts(callbell: CallbellSandbox) -> dict[str, list[dict[str, Any]]]:
    """The contacts with a number of the scores file, by the number's digits."""
    numbers = {lead.key for lead in LEADS}
    found: dict[str, list[dict[str, Any]]] = {}
    for contact in callbell.contacts():
        if digits(contact["phoneNumber"]) in numbers:
            found.setdefault(digits(contact["phoneNumber"]), []).append(contact)
    return found


def outbound_since(callbell: CallbellSandbox, before: set[str]) -> list[dict[str, Any]]:
    """The messages sent through the API that were not there ``before``."""
    return [m for m in callbell.messages() if m["direction"] == "outbound" and m["uuid"] not in before]


def message_uuids(callbell: CallbellSandbox) -> set[str]:
    return {message["uuid"] for message in callbell.messages()}


def template(callbell: CallbellSandbox, status: str) -> str:
    """A template of the account with that status and one placeholder, as the example needs."""
    return str(
        next(t["uuid"] for t in callbell.templates if t["status"] == status and t["text"].count("{{") == 1)
    )


def set_variables(deployment: Deployment, **values: str) -> None:
    """Variables set as users set them, from the CLI: one import for all of them."""
    path = deployment.root / "hot-leads-variables.json"
    path.write_text(json.dumps(values))
    deployment.cli("variables", "import", str(path))


def try_number(deployment: Deployment, run_id: str, task_id: str) -> int:
    ti = deployment.request("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")
    return int(ti["try_number"])


def report(deployment: Deployment, run_id: str) -> list[dict[str, Any]]:
    """The upsert report of the run, a line per lead, where the example writes it."""
    path = (
        Path(deployment.env["CALLBELL_EXPORT_DIR"]) / "hot_leads" / f"run_id={run_id}" / "upsert_report.jsonl"
    )
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ledger(deployment: Deployment, run_id: str) -> dict[str, Any]:
    """What Airflow keeps of the messages the run's message task sent: 3.3's task state store,
    a Variable before."""
    if AIRFLOW_V_3_3_PLUS:
        path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{MESSAGE_TASK}/state-store"
        entries = deployment.request("GET", path)["task_state_store"]
        return {entry["key"]: entry["value"] for entry in entries}
    stored: dict[str, Any] = json.loads(
        deployment.request("GET", f"/variables/{state_variable(run_id)}")["value"]
    )
    return stored


def state_variable(run_id: str) -> str:
    return f"callbell_task_state__{DAG_ID}__{MESSAGE_TASK}__{run_id}__-1"


def log_lines(log: str) -> list[str]:
    """The lines of a task log from the REST API (Airflow 2 gives them with escaped newlines)."""
    return re.split(r"\n|\\n", log)


def deferral(log: str) -> str:
    """The triggerer's line firing the event the task resumed with, after it deferred."""
    lines = log_lines(log)
    deferred = [n for n, line in enumerate(lines) if "Pausing task as DEFERRED" in line]
    assert deferred, log[-4000:]
    fired = [line for line in lines[deferred[0] :] if "fired" in line and "TriggerEvent<" in line]
    assert len(fired) == 1, log[-4000:]
    return fired[0]


def first_truthy(check: Callable[[], list[dict[str, Any]]], timeout: float) -> list[dict[str, Any]]:
    """``check()`` once it is not empty, or when ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return result


@dataclass
class FailedRun:
    """The scheduled run, with the rejected template: what it left."""

    run_id: str
    state: str
    task_states: dict[str, str | None]
    tries: int  # of the message task
    logs: list[str]  # of the message task, a try each
    sent: list[dict[str, Any]]  # every message sent through the API during the run and its callback


@pytest.fixture(scope="module")
def on_call(callbell: CallbellSandbox) -> dict[str, Any]:
    """The person on call, who wrote lately: free text reaches them in their 24-hour window."""
    person = callbell.add_contact(name="Person on call", phoneNumber=ON_CALL_NUMBER)
    callbell.receive_message(person["uuid"], "I'm on call today")
    return person


@pytest.fixture(scope="module")
def failed_run(
    deployment: Deployment, callbell: CallbellSandbox, on_call: dict[str, Any]
) -> Iterator[FailedRun]:
    """Unpause the example with the rejected template: the scheduled run it creates at once."""
    set_variables(
        deployment,
        callbell_hot_lead_template=template(callbell, "rejected"),
        callbell_on_call=on_call["phoneNumber"],
    )
    before = message_uuids(callbell)
    deployment.unpause(DAG_ID)

    def scheduled() -> str | None:
        runs = deployment.runs(DAG_ID)
        return next((str(run["dag_run_id"]) for run in runs if run["run_type"] == "scheduled"), None)

    run_id = eventually(scheduled, 60, "the scheduler to create a run")
    state = deployment.wait_run(DAG_ID, run_id)
    # the page goes out from the failure callback, as the task ends: wait for it, then a moment
    # more, for a second message that should not come
    first_truthy(lambda: outbound_since(callbell, before), 60)
    time.sleep(2)
    tries = try_number(deployment, run_id, MESSAGE_TASK)
    yield FailedRun(
        run_id,
        state,
        {task: deployment.task_state(DAG_ID, run_id, task) for task in TASKS},
        tries,
        [deployment.task_log(DAG_ID, run_id, MESSAGE_TASK, number) for number in range(1, tries + 1)],
        outbound_since(callbell, before),
    )
    deployment.request("PATCH", f"/dags/{DAG_ID}", json={"is_paused": True})
    for name in VARIABLES:
        deployment.http.delete(f"{deployment.api}/variables/{name}", timeout=30)


@dataclass
class Round:
    """What one go of the triggered run left."""

    state: str
    tries: int  # of the message task
    logs: list[str]  # of the message task, a try each
    summary: Any  # its return value
    report: list[dict[str, Any]]
    sent: list[dict[str, Any]]  # the messages to the scores file's numbers since the run began
    hot: list[tuple[str, str]]  # (number, lead_score) of each contact tagged hot with a score
    ledger: dict[str, Any]


@dataclass
class HotRun:
    run_id: str
    template: str
    vip: str  # the lead whose contact had the tag vip and no hot tag before the run
    first: Round
    cleared: Round


def unsettle(callbell: CallbellSandbox) -> str:
    """Make the leads' contacts (the failed run made them) need each a different upsert.

    The best lead's contact is deleted (to be created again), the second loses its hot tag and
    its score for a vip tag (to be updated, keeping vip), the third is left as it is (unchanged).
    Returns the second lead's contact.
    """
    found = lead_contacts(callbell)
    (best,) = found[HOT[0].key]
    callbell.delete_contact(best["uuid"])
    (second,) = found[HOT[1].key]
    callbell.update_contact(second["uuid"], tags=["vip"], customFields={"lead_score": "1"})
    (third,) = found[HOT[2].key]
    assert (third["tags"], third["customFields"]) == (["hot"], {"lead_score": HOT[2].score})
    return str(second["uuid"])


def observe(deployment: Deployment, callbell: CallbellSandbox, run_id: str, before: set[str]) -> Round:
    state = deployment.wait_run(DAG_ID, run_id)
    tries = try_number(deployment, run_id, MESSAGE_TASK)
    numbers = {lead.key for lead in LEADS}
    return Round(
        state=state,
        tries=tries,
        logs=[deployment.task_log(DAG_ID, run_id, MESSAGE_TASK, number) for number in range(1, tries + 1)],
        summary=deployment.xcom(DAG_ID, run_id, MESSAGE_TASK) if state == "success" else None,
        report=report(deployment, run_id),
        sent=[m for m in outbound_since(callbell, before) if digits(m["to"]) in numbers],
        hot=sorted(
            (digits(contact["phoneNumber"]), contact["customFields"]["lead_score"])
            for contact in callbell.contacts()
            if "hot" in contact["tags"] and "lead_score" in (contact.get("customFields") or {})
        ),
        ledger=ledger(deployment, run_id),
    )


#: Seconds a message of the sandbox takes to each next status: delivered 6 s after it is sent,
#: long after the send task's one look, so that the wait has to go to the triggerer.
SLOW_DELIVERY = 3.0


@pytest.fixture(scope="module")
def hot_run(deployment: Deployment, callbell: CallbellSandbox, failed_run: FailedRun) -> HotRun:
    """A run from the REST API with the approved template, then the same run cleared and run again."""
    approved = template(callbell, "approved")
    set_variables(deployment, callbell_hot_lead_template=approved)
    vip = unsettle(callbell)
    usual = callbell.settings.message_status_interval
    callbell.configure(message_status_interval=SLOW_DELIVERY)
    try:
        before = message_uuids(callbell)
        run_id = deployment.trigger_api(DAG_ID, datetime.now().astimezone().isoformat())
        first = observe(deployment, callbell, run_id, before)

        deployment.clear(DAG_ID, run_id)
        eventually(lambda: deployment.run(DAG_ID, run_id)["state"] != "success", 30, "the run to restart")
        cleared = observe(deployment, callbell, run_id, before)
    finally:
        callbell.configure(message_status_interval=usual)
    return HotRun(run_id, approved, vip, first, cleared)


def why(deployment: Deployment, run_id: str, found: Round) -> str:
    """The message task's last log, and what the scheduler said of the run's task instances."""
    scheduler = deployment.said_of("scheduler", run_id)
    return "\n".join([found.logs[-1][-4000:], "scheduler:", *(line[:600] for line in scheduler[-40:])])


def test_a_failed_run_pages_the_person_on_call_once_and_sends_no_template(
    failed_run: FailedRun, on_call: dict[str, Any]
) -> None:
    assert failed_run.state == "failed"
    assert failed_run.task_states == {
        "pick_hot_leads": "success",
        "tag_hot_leads": "success",
        "message_hot_leads": "failed",
    }
    assert failed_run.tries == 2  # retried once, as the example asks
    for log in failed_run.logs:
        assert "3 messages could not be sent" in log
        assert "the template is rejected" in log

    (page,) = failed_run.sent  # one message went out, once the task failed for good: no template
    assert page["contactUuid"] == on_call["uuid"]
    assert digits(page["to"]) == digits(ON_CALL_NUMBER)
    assert page["templateUuid"] is None
    text = page["content"]["text"]
    assert f"DAG {DAG_ID}" in text
    assert "task message_hot_leads" in text
    assert failed_run.run_id in text


def test_a_run_from_the_rest_api_tags_and_messages_the_best_leads_once_even_cleared(
    deployment: Deployment, callbell: CallbellSandbox, hot_run: HotRun
) -> None:
    first, cleared = hot_run.first, hot_run.cleared
    assert first.state == "success", why(deployment, hot_run.run_id, first)

    # exactly the three best-scored leads are tagged hot and scored, one contact each
    assert first.hot == sorted((lead.key, lead.score) for lead in HOT)
    found = lead_contacts(callbell)
    assert [len(found.get(lead.key, [])) for lead in HOT] == [1, 1, 1]
    assert not [c for lead in COLD for c in found.get(lead.key, []) if "hot" in c["tags"]]
    assert callbell.get_contact(hot_run.vip)["tags"] == ["vip", "hot"]  # tags added, none removed

    # one approved template to each, with its first name and the campaign
    uuids = {digits(c["phoneNumber"]): c["uuid"] for lead in HOT for c in found[lead.key]}
    sent = sorted(
        (digits(m["to"]), m["contactUuid"], m["templateUuid"], m["templateValues"], m["metadata"]["campaign"])
        for m in first.sent
    )
    assert sent == sorted(
        (lead.key, uuids[lead.key], hot_run.template, [lead.name.split()[0]], "hot_leads") for lead in HOT
    )

    # the task's return value: each delivered or read, once the triggerer saw them so (should
    # Airflow retry the task, the retry sends nothing and finds them delivered)
    summary = first.summary
    assert (summary["sent"] + summary["earlier"], summary["failed"]) == (3, 0)
    assert sorted(row["uuid"] for row in summary["messages"]) == sorted(m["uuid"] for m in first.sent)
    assert {row["status"] for row in summary["messages"]} <= set(SETTLED)
    (sending,) = [log for log in first.logs if "Sent 3 messages" in log]
    fired = deferral(sending)
    for row in summary["messages"]:
        assert re.search(f"'{row['uuid']}': '(delivered|read)'", fired), fired

    # the upsert report: one line per lead, as the contacts before the run required (see unsettle)
    assert [line["outcome"] for line in first.report] == ["created", "updated", "unchanged"]
    assert [line["uuid"] for line in first.report] == [uuids[lead.key] for lead in HOT]

    # cleared and run again: nothing sent twice, as Airflow's record of the sent messages says
    assert cleared.state == "success", why(deployment, hot_run.run_id, cleared)
    assert cleared.tries > first.tries
    assert sorted(m["uuid"] for m in cleared.sent) == sorted(m["uuid"] for m in first.sent)
    summary = cleared.summary
    assert (summary["sent"], summary["earlier"], summary["failed"]) == (0, 3, 0)
    assert sorted(row["uuid"] for row in summary["messages"]) == sorted(m["uuid"] for m in first.sent)
    assert {row["status"] for row in summary["messages"]} <= set(SETTLED)
    keys = {LEDGER_PREFIX + m["metadata"]["idempotency_key"]: m["uuid"] for m in first.sent}
    assert {key: mark["uuid"] for key, mark in cleared.ledger.items()} == keys
    assert {mark["state"] for mark in cleared.ledger.values()} == {"sent"}
    if AIRFLOW_V_3_3_PLUS:  # the task state store, not a Variable, keeps it
        variable = deployment.http.get(
            f"{deployment.api}/variables/{state_variable(hot_run.run_id)}", timeout=30
        )
        assert variable.status_code == 404
    assert [line["outcome"] for line in cleared.report] == ["unchanged"] * 3
    assert [line["uuid"] for line in cleared.report] == [uuids[lead.key] for lead in HOT]
    assert cleared.hot == first.hot


def test_the_token_is_in_no_log_of_these_runs(
    deployment: Deployment, failed_run: FailedRun, hot_run: HotRun
) -> None:
    logs = [
        deployment.task_log(DAG_ID, run_id, task, number)
        for run_id in (failed_run.run_id, hot_run.run_id)
        for task in TASKS
        for number in range(1, try_number(deployment, run_id, task) + 1)
    ]
    folder = Path(deployment.env["AIRFLOW_HOME"]) / "logs" / f"dag_id={DAG_ID}"
    logs += [path.read_text(errors="replace") for path in folder.rglob("*") if path.is_file()]
    logs.append(deployment.output("triggerer"))
    text = "\n".join(logs)

    # the logs of every task are among them: the upserts, the sends, the triggers' and the failure
    assert "Upserted 3 rows" in text
    assert "Sent 3 messages" in text
    assert "Sent 0 messages" in text
    assert "3 messages could not be sent" in text
    assert "TriggerEvent<" in text
    assert TOKEN not in text
    assert TOKEN[: len(TOKEN) // 2] not in text
