"""Lead watches on a live account: the sensor's looks and both triggers, while leads come and go.

A contact that was a lead when the watch began and stayed one is never reported; a contact
that became a lead once after the first look (new, or newly tagged) is reported exactly once
by the look after. Contacts that changed during the first look may go either way.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_provider_callbell.sandbox import CallbellSandbox
from airflow_provider_callbell.sensors.contacts import CallbellNewLeadsSensor
from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsTrigger
from tests.conftest import SandboxFactory, connect

LEAD = "lead"
#: Leads come and go fast, most contacts move: what makes a look's baseline wrong if it is.
LEADS_COME_AND_GO = {
    "events_per_second": 200.0,
    "event_mix": {"message": 0.6, "create": 0.05, "delete": 0.05, "tag_add": 0.2, "tag_remove": 0.1},
    "event_tags": (LEAD,),
    "tag_message_rate": 0.5,
}


@pytest.fixture
def account(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    """1,500 contacts, 10 a page, 5 ms a request, their lead tags changing 70 times a second."""
    sandbox = sandbox_factory(contacts=1500, seed=9, page_size=10, latency=0.005, **LEADS_COME_AND_GO)
    connect(monkeypatch, sandbox, max_requests_per_second=5000)
    return sandbox


def becoming(sandbox: CallbellSandbox, start: int, end: int) -> Counter[str]:
    """How often each contact started being a lead between two event counts."""
    counts: Counter[str] = Counter()
    for event in sandbox.events()[start:end]:
        if (event.kind == "tag_add" and event.tag == LEAD) or event.kind == "create":
            counts[event.uuid] += 1
    return counts


def membership_changed(sandbox: CallbellSandbox, start: int, end: int) -> set[str]:
    return {
        event.uuid
        for event in sandbox.events()[start:end]
        if event.kind in ("create", "delete") or (event.kind.startswith("tag_") and event.tag == LEAD)
    }


def leads(state: Any) -> set[str]:
    return {uuid for uuid in state.uuids if LEAD in state.tags_of(uuid)}


def check_reports(
    sandbox: CallbellSandbox, reported: Iterable[str], began: Any, settled: Any, ended: Any
) -> None:
    """``began``: before the first look; ``settled``: after it; ``ended``: before the last look began."""
    reported = list(reported)
    old_leads = leads(began) - membership_changed(sandbox, began.events, sandbox.state().events)
    became = becoming(sandbox, settled.events, ended.events)
    still = leads(sandbox.state()) - membership_changed(sandbox, ended.events, sandbox.state().events)
    # became a lead once after the first look (a lead that flickers off and on between two
    # looks is invisible to any poller) and stayed one
    new_leads = {uuid for uuid, count in became.items() if count == 1} & still & leads(ended) - leads(settled)
    changed_once = {
        uuid for uuid in new_leads if membership_changed(sandbox, settled.events, ended.events) >= {uuid}
    }

    assert not set(reported) & old_leads, "a lead from before the watch was reported as new"
    assert new_leads - set(reported) == set(), "a new lead was not reported"
    assert [uuid for uuid, count in Counter(reported).items() if count > 1] == [], "reported twice"
    assert len(changed_once) > 5, "the account should have made new leads meanwhile"
    assert len(old_leads) > 50


def fake_context() -> Any:
    """What poke() reads of the context: a task state store, the task instance, no interval."""
    store: dict[str, Any] = {}
    state_store = SimpleNamespace(
        get=lambda key, default=None: store.get(key, default),
        set=lambda key, value, **_: store.__setitem__(key, value),
        delete=lambda key: store.pop(key, None),
    )
    ti = SimpleNamespace(dag_id="live", task_id="leads", run_id="r", map_index=-1)
    return {"task_state_store": state_store, "ti": ti, "data_interval_start": None}


def test_the_sensors_looks(account: CallbellSandbox) -> None:
    sensor = CallbellNewLeadsSensor(task_id="leads", tags=[LEAD], since="2099-01-01T00:00:00Z", min_leads=1)
    context = fake_context()

    began = account.state()
    assert not sensor.poke(context).is_done
    settled = account.state()
    time.sleep(0.5)
    ended = account.state()
    found = sensor.poke(context)

    assert found.is_done
    check_reports(account, [lead["uuid"] for lead in found.xcom_value or []], began, settled, ended)


def test_the_deferrable_trigger(account: CallbellSandbox) -> None:
    sensor = CallbellNewLeadsSensor(task_id="leads", tags=[LEAD], since="2099-01-01T00:00:00Z")
    context = fake_context()
    began = account.state()
    sensor.poke(context)
    settled = account.state()
    saved = context["task_state_store"].get("callbell_new_leads_watch")
    time.sleep(0.5)
    ended = account.state()

    trigger = CallbellNewLeadsTrigger(tags=[LEAD], since=saved["since"], baseline=saved["baseline"])
    event = asyncio.run(first_event(trigger))

    assert event.payload["status"] == "success"
    check_reports(account, [lead["uuid"] for lead in event.payload["leads"]], began, settled, ended)


async def first_event(trigger: Any) -> Any:
    events = trigger.run()
    try:
        return await events.__anext__()
    finally:
        await events.aclose()


class RecordingStore:
    """The asset state store of Airflow 3.3, recording the account's state at each save (look)."""

    def __init__(self, sandbox: CallbellSandbox) -> None:
        self.sandbox = sandbox
        self.looks: list[Any] = []

    async def aget(self, key: str, default: Any = None) -> Any:
        return default

    async def aset(self, key: str, value: Any) -> None:
        self.looks.append(self.sandbox.state())


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="event-driven scheduling needs Airflow 3")
def test_the_event_trigger_over_many_looks(account: CallbellSandbox) -> None:
    from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsEventTrigger

    trigger = CallbellNewLeadsEventTrigger(tags=[LEAD], poll_interval=0.2)
    store = RecordingStore(account)
    trigger.asset_state_store = store  # type: ignore[assignment]
    reported: list[str] = []

    async def watch() -> None:
        events: Any = trigger.run()
        try:
            while len(store.looks) < 6:
                event = await asyncio.wait_for(events.__anext__(), timeout=60)
                reported.extend(lead["uuid"] for lead in event.payload["leads"])
        finally:
            await events.aclose()

    began = account.state()
    asyncio.run(watch())

    # every look ends with a save; the last look began after the one before it ended
    check_reports(account, reported, began, store.looks[0], store.looks[-2])
