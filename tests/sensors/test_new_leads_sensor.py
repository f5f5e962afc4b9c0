"""CallbellNewLeadsSensor in real DAG runs, in every mode, while leads appear in the sandbox."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_callbell.sandbox import CallbellSandbox
from airflow_provider_callbell.sensors.contacts import CallbellNewLeadsSensor
from tests.conftest import SandboxFactory, connect
from tests.dag_runs import NOT_RETURNED, DagResult, run_task

pytestmark = pytest.mark.usefixtures("airflow_db")

TOKEN = "cb-sensor-secret-93ab77"
MODES = [
    pytest.param({"mode": "poke"}, id="poke"),
    pytest.param({"mode": "reschedule"}, id="reschedule"),
    pytest.param({"deferrable": True}, id="deferrable"),
]


@pytest.fixture
def inbox(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    """A small account whose leads fit one page, behind callbell_default."""
    sandbox = sandbox_factory(contacts=60, seed=4, token=TOKEN)
    connect(monkeypatch, sandbox)
    return sandbox


def is_lead(contact: dict[str, Any]) -> bool:
    return "lead" in {tag.lower() for tag in contact.get("tags") or []}


@pytest.fixture
def after_first_look(inbox: CallbellSandbox) -> Iterator[Callable[[Callable[[], None]], None]]:
    """Run a change in the sandbox once the sensor's first look is over."""
    threads = []

    def schedule(change: Callable[[], None]) -> None:
        def wait_then_change() -> None:
            # The first look is a burst of requests, then the sensor waits poke_interval
            # (0.5 s): the first pause after the first answer is the end of the first look.
            deadline = time.monotonic() + 60
            while inbox.stats.by_status.get(200, 0) < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            answered = -1
            while answered != inbox.stats.total_requests and time.monotonic() < deadline:
                answered = inbox.stats.total_requests
                time.sleep(0.2)
            change()

        thread = threading.Thread(target=wait_then_change, daemon=True)
        thread.start()
        threads.append(thread)

    yield schedule
    for thread in threads:
        thread.join(timeout=60)


def watch(tmp_path: Path, **kwargs: Any) -> DagResult:
    kwargs = {"poke_interval": 0.5, "timeout": 60, "since": "2026-01-01T00:00:00Z", "fields": None, **kwargs}
    return run_task(CallbellNewLeadsSensor, kwargs, tmp_path)


@pytest.mark.parametrize("mode", MODES)
def test_a_new_contact_tagged_lead(
    inbox: CallbellSandbox, after_first_look: Any, tmp_path: Path, mode: dict[str, Any]
) -> None:
    created: list[dict[str, Any]] = []
    after_first_look(lambda: created.append(inbox.add_contact(name="Nuova Cliente", tags=["Lead"])))

    result = watch(tmp_path, **mode)

    assert result.state == "success"
    assert result.returned == created


@pytest.mark.parametrize("mode", MODES)
def test_an_old_contact_newly_tagged(
    inbox: CallbellSandbox, after_first_look: Any, tmp_path: Path, mode: dict[str, Any]
) -> None:
    old = next(contact for contact in inbox.contacts() if not contact.get("tags"))
    after_first_look(lambda: inbox.update_contact(old["uuid"], tags=["lead", "vip"]))

    result = watch(tmp_path, **mode)

    assert result.state == "success"
    assert result.returned == [inbox.get_contact(old["uuid"])]


def test_leads_created_since_count_even_if_already_tagged(inbox: CallbellSandbox, tmp_path: Path) -> None:
    fresh = inbox.add_contact(name="Early bird", tags=["lead"], createdAt="2026-11-23T10:00:00Z")

    result = watch(tmp_path, since="2026-11-23T00:00:00Z")

    assert result.returned == [fresh]


def test_pre_existing_leads_are_never_reported(
    inbox: CallbellSandbox, after_first_look: Any, tmp_path: Path
) -> None:
    assert any(is_lead(contact) for contact in inbox.contacts())
    created: list[dict[str, Any]] = []
    after_first_look(lambda: created.append(inbox.add_contact(name="Only me", tags=["lead"])))

    result = watch(tmp_path)

    assert [lead["uuid"] for lead in result.returned] == [created[0]["uuid"]]


def test_min_leads_waits_for_enough(inbox: CallbellSandbox, after_first_look: Any, tmp_path: Path) -> None:
    created: list[dict[str, Any]] = []

    def three_leads_one_by_one() -> None:
        for number in range(3):
            created.append(inbox.add_contact(name=f"Lead {number}", tags=["lead"]))
            time.sleep(0.7)

    after_first_look(three_leads_one_by_one)

    result = watch(tmp_path, min_leads=3)

    assert result.state == "success"
    assert sorted(lead["uuid"] for lead in result.returned) == sorted(lead["uuid"] for lead in created)


def test_tags_all_and_source(inbox: CallbellSandbox, after_first_look: Any, tmp_path: Path) -> None:
    wanted: list[dict[str, Any]] = []

    def changes() -> None:
        inbox.add_contact(name="Lead only", tags=["lead"], source="instagram")
        inbox.add_contact(name="VIP lead on WhatsApp", tags=["lead", "VIP"], source="whatsapp")
        wanted.append(
            inbox.add_contact(name="VIP lead on Instagram", tags=["Lead", "vip"], source="instagram")
        )

    after_first_look(changes)

    result = watch(tmp_path, tags="lead, vip", tags_match="all", source="instagram")

    assert result.returned == wanted


@pytest.mark.parametrize("mode", MODES)
def test_timeout_fails(inbox: CallbellSandbox, tmp_path: Path, mode: dict[str, Any]) -> None:
    result = watch(tmp_path, timeout=2, **mode)

    assert result.state == "failed"
    assert result.returned is NOT_RETURNED


@pytest.mark.parametrize("mode", MODES)
def test_timeout_with_soft_fail_skips(inbox: CallbellSandbox, tmp_path: Path, mode: dict[str, Any]) -> None:
    result = watch(tmp_path, timeout=2, soft_fail=True, **mode)

    assert result.returned is NOT_RETURNED
    assert result.state == "success"


def test_too_many_new_leads_for_xcom(inbox: CallbellSandbox, tmp_path: Path, logs: Callable[[], str]) -> None:
    for number in range(4):
        inbox.add_contact(name=f"Lead {number}", tags=["lead"], createdAt="2026-11-23T10:00:00Z")

    result = watch(tmp_path, since="2026-11-23T00:00:00Z", max_xcom_contacts=3)

    assert result.state == "failed"
    assert "More than max_xcom_contacts=3 new leads" in logs()


@pytest.mark.parametrize("mode", MODES)
def test_token_absent_from_logs_and_xcom(
    inbox: CallbellSandbox,
    after_first_look: Any,
    tmp_path: Path,
    mode: dict[str, Any],
    logs: Callable[[], str],
) -> None:
    after_first_look(lambda: inbox.add_contact(name="Someone new", tags=["lead"]))

    result = watch(tmp_path, **mode)

    assert result.state == "success"
    assert TOKEN not in json.dumps(result.returned)
    assert TOKEN not in logs()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tags": []}, "tags must name at least one"),
        ({"tags": ""}, "tags must name at least one"),
        ({"tags_match": "most"}, "tags_match must be one of 'any', 'all', got 'most'"),
        ({"since": "last tuesday"}, "since must be a datetime, an ISO 8601 string"),
        ({"min_leads": 0}, "min_leads must be a whole number from 1 to"),
        ({"source": ""}, "source must be a non-empty string"),
        ({"max_xcom_contacts": -1}, "max_xcom_contacts must be a whole number from 1 to"),
        ({"fields": []}, "fields must name at least one"),
        ({"fields": 3}, "fields must be a list of strings or a comma-separated string"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CallbellNewLeadsSensor(task_id="wait", **kwargs)


def test_templated_arguments_are_checked_once_rendered() -> None:
    sensor = CallbellNewLeadsSensor(
        task_id="wait", since="{{ data_interval_start }}", min_leads="{{ params.n }}"
    )

    assert sensor.since == "{{ data_interval_start }}"
    assert {"tags", "source", "team_uuid", "since", "min_leads"} <= set(sensor.template_fields)


def test_deferrable_default_comes_from_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import airflow_provider_callbell.sensors.contacts as module

    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    try:
        assert importlib.reload(module).CallbellNewLeadsSensor(task_id="wait").deferrable is True
    finally:
        monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE")
        importlib.reload(module)


def test_since_defaults_to_the_data_interval_start(inbox: CallbellSandbox, tmp_path: Path) -> None:
    fresh = inbox.add_contact(name="Early bird", tags=["lead"], createdAt="2026-11-23T10:00:00Z")
    inbox.add_contact(name="Last year", tags=["lead"], createdAt="2025-11-23T10:00:00Z")

    result = run_task(CallbellNewLeadsSensor, {"poke_interval": 0.5, "timeout": 60, "fields": None}, tmp_path)

    assert result.data_interval_start is not None
    assert result.data_interval_start.isoformat() <= "2026-11-23T10:00:00+00:00"
    assert result.returned == [fresh]


@pytest.mark.parametrize("mode", MODES)
def test_no_spurious_lead_on_a_live_account(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: dict[str, Any]
) -> None:
    live = {"message": 0.8, "tag_add": 0.1, "tag_remove": 0.1}
    inbox = sandbox_factory(
        contacts=400, seed=8, page_size=10, latency=0.002, events_per_second=100, event_mix=live, token=TOKEN
    )
    connect(monkeypatch, inbox)
    began = inbox.state()

    result = watch(tmp_path, since="2099-01-01T00:00:00Z", min_leads=3, **mode)

    ended = inbox.state()
    changed = {event.uuid for event in inbox.events()[began.events : ended.events] if event.tag is not None}
    old_leads = {uuid for uuid in began.uuids if "lead" in began.tags_of(uuid)} - changed
    reported = [lead["uuid"] for lead in result.returned]
    assert result.state == "success"
    assert len(reported) >= 3
    assert len(set(reported)) == len(reported)
    assert not set(reported) & old_leads, "a lead from before the watch was reported as new"
    assert set(reported) <= changed
    assert len(old_leads) > 10
    assert sum(event.moved for event in inbox.events()[began.events : ended.events]) > 50


@pytest.mark.parametrize("mode", MODES)
def test_leads_carry_only_a_few_keys_by_default(
    inbox: CallbellSandbox, after_first_look: Any, tmp_path: Path, mode: dict[str, Any]
) -> None:
    created: list[dict[str, Any]] = []
    after_first_look(lambda: created.append(inbox.add_contact(name="Nuova Cliente", tags=["Lead"])))

    result = watch(tmp_path, fields=CallbellNewLeadsSensor(task_id="defaults").fields, **mode)

    lead = created[0]
    assert result.returned == [{key: lead[key] for key in ("uuid", "tags", "source", "createdAt")}]
    assert lead["name"] not in json.dumps(result.returned)
    assert lead["phoneNumber"] not in json.dumps(result.returned)


@pytest.mark.parametrize("mode", MODES)
def test_fields_chooses_what_a_lead_carries(
    inbox: CallbellSandbox, after_first_look: Any, tmp_path: Path, mode: dict[str, Any]
) -> None:
    created: list[dict[str, Any]] = []
    after_first_look(lambda: created.append(inbox.add_contact(name="Nuova Cliente", tags=["Lead"])))

    result = watch(tmp_path, fields="name, uuid", **mode)

    assert result.returned == [{"name": "Nuova Cliente", "uuid": created[0]["uuid"]}]
