"""The new-leads triggers, run on an event loop against the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from airflow.providers.common.compat.module_loading import import_string
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS
from airflow.triggers.base import TriggerEvent

from airflow_provider_callbell.api.leads import DEFAULT_LEAD_FIELDS
from airflow_provider_callbell.sandbox import CallbellSandbox
from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsTrigger
from tests.conftest import SandboxFactory, connect

TOKEN = "cb-trigger-secret-4410de"


@pytest.fixture
def inbox(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    sandbox = sandbox_factory(contacts=60, seed=8, token=TOKEN)
    connect(monkeypatch, sandbox)
    return sandbox


def leads_now(sandbox: CallbellSandbox) -> list[str]:
    return [c["uuid"] for c in sandbox.contacts() if "lead" in {t.lower() for t in c.get("tags") or []}]


def deferred(sandbox: CallbellSandbox, **kwargs: Any) -> CallbellNewLeadsTrigger:
    arguments: dict[str, Any] = {
        "since": "2026-01-01T00:00:00+00:00",
        "baseline": leads_now(sandbox),
        "poll_interval": 0.05,
        "fields": None,
        **kwargs,
    }
    return CallbellNewLeadsTrigger(**arguments)


async def answered(sandbox: CallbellSandbox, requests: int) -> None:
    while sandbox.stats.by_status.get(200, 0) < requests:
        await asyncio.sleep(0.01)


async def next_event(events: AsyncIterator[TriggerEvent], timeout: float = 20) -> TriggerEvent:
    return await asyncio.wait_for(anext(events), timeout)


def test_serialize_round_trip_without_the_token(inbox: CallbellSandbox) -> None:
    trigger = deferred(
        inbox,
        tags=["lead", "vip"],
        tags_match="all",
        source="whatsapp",
        timeout_at="2026-12-01T00:00:00+00:00",
    )

    classpath, kwargs = trigger.serialize()
    rebuilt = import_string(classpath)(**kwargs)

    assert rebuilt.serialize() == (classpath, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert TOKEN not in json.dumps(kwargs)
    assert kwargs["callbell_conn_id"] == "callbell_default"


def test_events_carry_only_a_few_keys_by_default(inbox: CallbellSandbox) -> None:
    async def scenario() -> TriggerEvent:
        events = deferred(inbox, fields=DEFAULT_LEAD_FIELDS).run()
        pending = asyncio.ensure_future(next_event(events))
        await answered(inbox, 1)
        inbox.add_contact(name="Nuova Cliente", phoneNumber="+39 333 123 4567", tags=["lead"])
        return await pending

    event = asyncio.run(scenario())

    [lead] = event.payload["leads"]
    assert list(lead) == ["uuid", "tags", "source", "createdAt"]
    assert "Nuova" not in json.dumps(event.payload)
    assert "4567" not in json.dumps(event.payload)
    assert deferred(inbox, fields=DEFAULT_LEAD_FIELDS).serialize()[1]["fields"] == list(DEFAULT_LEAD_FIELDS)


def test_fires_with_exactly_the_new_lead(inbox: CallbellSandbox) -> None:
    old = next(contact for contact in inbox.contacts() if not contact.get("tags"))

    async def scenario() -> TriggerEvent:
        events = deferred(inbox).run()
        pending = asyncio.ensure_future(next_event(events))
        await answered(inbox, 1)
        inbox.update_contact(old["uuid"], tags=["Lead"])
        return await pending

    event = asyncio.run(scenario())

    assert event.payload == {"status": "success", "leads": [inbox.get_contact(old["uuid"])]}


def test_waits_for_min_leads(inbox: CallbellSandbox) -> None:
    async def scenario() -> TriggerEvent:
        events = deferred(inbox, min_leads=2).run()
        pending = asyncio.ensure_future(next_event(events))
        await answered(inbox, 1)
        first = inbox.add_contact(name="First", tags=["lead"])
        await answered(inbox, 3)
        assert not pending.done()
        inbox.add_contact(name="Second", tags=["lead"])
        event = await pending
        assert first in event.payload["leads"]
        return event

    assert sorted(lead["name"] for lead in asyncio.run(scenario()).payload["leads"]) == ["First", "Second"]


def test_gives_up_at_its_deadline(inbox: CallbellSandbox) -> None:
    trigger = deferred(inbox, timeout_at="2020-01-01T00:00:00+00:00")

    event = asyncio.run(next_event(trigger.run()))

    assert event.payload["status"] == "timeout"
    assert "0 new leads by 2020-01-01" in event.payload["message"]


def test_reports_errors_as_an_event(inbox: CallbellSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CALLBELL_DEFAULT",
        json.dumps({"conn_type": "callbell", "host": inbox.url, "password": "not-the-token"}),
    )

    event = asyncio.run(next_event(deferred(inbox).run()))

    assert event.payload["status"] == "error"
    assert "HTTP 401" in event.payload["message"]
    assert "not-the-token" not in event.payload["message"]


def test_never_blocks_the_event_loop(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory(contacts=2000, page_size=20, latency=0.01)
    monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", sandbox.airflow_connection())

    def blocking(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a blocking call ran on the event loop")

    monkeypatch.setattr("time.sleep", blocking)
    monkeypatch.setattr("requests.Session.request", blocking)
    trigger = deferred(sandbox, tags=["customer"], baseline=[], timeout_at="2020-01-01T00:00:00+00:00")

    event = asyncio.run(next_event(trigger.run()))

    assert event.payload["status"] == "success"
    assert sandbox.stats.total_requests > 10


class StateStore:
    """What the triggerer injects as ``asset_state_store``: JSON values by key, async."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="event-driven scheduling needs Airflow 3")
class TestEventTrigger:
    @staticmethod
    def watcher(store: StateStore | None) -> Any:
        from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsEventTrigger

        trigger = CallbellNewLeadsEventTrigger(poll_interval=0.05, fields=None)
        trigger.asset_state_store = store  # type: ignore[assignment]
        return trigger

    def test_is_an_event_trigger_with_deterministic_kwargs(self) -> None:
        from airflow.providers.common.compat.triggers import BaseEventTrigger

        first, second = self.watcher(None), self.watcher(None)

        assert isinstance(first, BaseEventTrigger)
        assert first.serialize() == second.serialize()
        assert BaseEventTrigger.hash(*first.serialize()) == BaseEventTrigger.hash(*second.serialize())

    def test_survives_a_restart_without_resending_or_losing(self, inbox: CallbellSandbox) -> None:
        store = StateStore()
        old = next(contact for contact in inbox.contacts() if not contact.get("tags"))

        async def before_restart() -> TriggerEvent:
            watcher = self.watcher(store)
            events = watcher.run()
            pending = asyncio.ensure_future(next_event(events))
            while watcher.STATE_KEY not in store.values:  # the first look is over
                await asyncio.sleep(0.01)
            walk_in = inbox.add_contact(name="Walk-in", tags=["lead"])
            event = await pending
            going_on = asyncio.ensure_future(anext(events))
            while walk_in["uuid"] not in store.values.get(watcher.STATE_KEY, []):
                await asyncio.sleep(0.01)
            going_on.cancel()
            return event

        first = asyncio.run(before_restart())
        inbox.update_contact(old["uuid"], tags=["lead"])

        async def after_restart() -> TriggerEvent:
            return await next_event(self.watcher(store).run())

        second = asyncio.run(after_restart())

        assert [lead["name"] for lead in first.payload["leads"]] == ["Walk-in"]
        assert second.payload == {"leads": [inbox.get_contact(old["uuid"])]}

    def test_without_a_store_a_restart_starts_a_new_watch(self, inbox: CallbellSandbox) -> None:
        async def first_look() -> None:
            events = self.watcher(None).run()
            pending = asyncio.ensure_future(anext(events))
            await answered(inbox, 1)
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending

        asyncio.run(first_look())
        inbox.add_contact(name="During downtime", tags=["lead"])

        async def after_restart() -> bool:
            events = self.watcher(None).run()
            try:
                await asyncio.wait_for(anext(events), 0.5)
            except TimeoutError:
                return False
            return True

        assert asyncio.run(after_restart()) is False


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="only Airflow 2 lacks event-driven scheduling")
def test_event_trigger_says_it_needs_airflow_3() -> None:
    with pytest.raises(ImportError, match="CallbellNewLeadsEventTrigger needs Airflow 3"):
        from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsEventTrigger  # noqa: F401
