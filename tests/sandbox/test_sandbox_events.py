"""Live events: what each kind does, the log, determinism, pausing, the rate and its schedule."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_callbell.sandbox import CallbellSandbox, SandboxEvent
from airflow_provider_callbell.sandbox.pump import Schedule
from tests.sandbox.client import uuids

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.sandbox.conftest import MakeSandbox


def only(kind: str, **settings: Any) -> CallbellSandbox:
    """A sandbox (not serving) whose events are all of ``kind``."""
    settings.setdefault("contacts", 20)
    return CallbellSandbox(seed=4, event_mix={kind: 1}, **settings)


def lowered(contact: dict[str, Any]) -> set[str]:
    return {tag.lower() for tag in contact["tags"]}


def wait_for(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds; fails only after a generous 10 seconds."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def replay(order: tuple[str, ...], tags: dict[str, set[str]], events: list[SandboxEvent]) -> list[str]:
    """Apply logged events to a copy of a state; returns the order, updates ``tags``."""
    result = list(order)
    for event in events:
        if event.uuid in result and (event.kind == "delete" or event.moved):
            result.remove(event.uuid)
        if event.kind == "create":
            tags[event.uuid] = set()
        if event.kind == "delete":
            del tags[event.uuid]
        elif event.tag is not None:
            change = tags[event.uuid].add if event.kind == "tag_add" else tags[event.uuid].discard
            change(event.tag.lower())
        if event.moved:
            result.insert(0, event.uuid)
    return result


# Each kind


def test_message_moves_a_contact_to_the_top() -> None:
    sandbox = only("message")
    before = sandbox.contacts()

    [event] = sandbox.apply_events(1)

    after = sandbox.contacts()
    assert (event.index, event.kind, event.moved, event.tag) == (0, "message", True, None)
    assert after[0]["uuid"] == event.uuid
    assert sorted(uuids(after)) == sorted(uuids(before))
    assert after[0] == next(c for c in before if c["uuid"] == event.uuid)
    assert sandbox.events() == [event]


def test_create_adds_a_contact_at_the_top() -> None:
    sandbox = only("create")

    [event] = sandbox.apply_events(1)

    contacts = sandbox.contacts()
    assert (event.kind, event.moved, event.tag) == ("create", True, None)
    assert len(contacts) == 21
    assert contacts[0]["uuid"] == event.uuid
    assert contacts[0]["name"] == "New contact 0"


def test_delete_removes_a_contact_until_none_is_left() -> None:
    sandbox = only("delete", contacts=5)
    order = uuids(sandbox.contacts())

    events = sandbox.apply_events(10)

    assert len(events) == 5, "nothing left to delete"
    assert sorted(e.uuid for e in events) == sorted(order)
    assert {(e.kind, e.moved, e.tag) for e in events} == {("delete", False, None)}
    assert sandbox.contacts() == []


@pytest.mark.parametrize(("rate", "moved"), [(0.0, False), (1.0, True)])
def test_tag_add_tags_a_contact_lacking_the_tag(rate: float, moved: bool) -> None:
    sandbox = only("tag_add", event_tags=("Lead", "VIP-live"), tag_message_rate=rate)
    before = sandbox.contacts()

    events = sandbox.apply_events(10)

    after = {c["uuid"]: c for c in sandbox.contacts()}
    for event in events:
        old = next(c for c in before if c["uuid"] == event.uuid)
        assert event.tag is not None
        assert event.tag.lower() not in lowered(old)
        assert event.tag in after[event.uuid]["tags"]
        assert event.moved is moved
    assert {e.tag for e in events} == {"Lead", "VIP-live"}
    if moved:
        assert uuids(sandbox.contacts())[0] == events[-1].uuid
    else:
        assert uuids(sandbox.contacts()) == uuids(before)


@pytest.mark.parametrize(("rate", "moved"), [(0.0, False), (1.0, True)])
def test_tag_remove_untags_a_contact_having_the_tag(rate: float, moved: bool) -> None:
    sandbox = only("tag_remove", contacts=100, event_tags=("LEAD",), tag_message_rate=rate)
    before = sandbox.contacts()
    leads = [c["uuid"] for c in before if "lead" in lowered(c)]

    events = sandbox.apply_events(len(leads) + 5)

    assert sorted(e.uuid for e in events) == sorted(leads), "each lead once, then nothing to do"
    assert {(e.tag, e.moved) for e in events} == {("LEAD", moved)}
    assert not any("lead" in lowered(c) for c in sandbox.contacts())
    if not moved:
        assert uuids(sandbox.contacts()) == uuids(before)


def test_an_impossible_kind_is_drawn_again_among_the_others() -> None:
    sandbox = CallbellSandbox(contacts=3, seed=1, event_mix={"delete": 1, "create": 1})

    events = sandbox.apply_events(30)

    assert len(events) == 30
    assert len(sandbox.contacts()) == 3 + sum(1 if e.kind == "create" else -1 for e in events)


# The log and the state


def test_state_and_log_account_for_every_event() -> None:
    sandbox = CallbellSandbox(contacts=60, seed=9, event_tags=("lead", "vip"))
    before = sandbox.state()

    sandbox.apply_events(300)
    after = sandbox.state()

    events = sandbox.events()[before.events : after.events]
    tags = {uuid: set(before.tags_of(uuid)) for uuid in before.order}
    assert replay(before.order, tags, events) == list(after.order)
    assert tags == {uuid: set(after.tags_of(uuid)) for uuid in after.order}
    assert after.uuids == frozenset(after.order)
    assert [e.index for e in events] == list(range(300))
    assert [e.time for e in events] == sorted(e.time for e in events)
    assert set(Counter(e.kind for e in events)) == {"message", "create", "delete", "tag_add", "tag_remove"}


def test_targets_are_uniform_among_contacts() -> None:
    sandbox = only("message", contacts=10)

    counts = Counter(e.uuid for e in sandbox.apply_events(3000))

    assert len(counts) == 10
    assert all(200 < count < 400 for count in counts.values())


# Determinism


def signature(events: list[SandboxEvent]) -> list[tuple[str, str, bool, str | None]]:
    return [(e.kind, e.uuid, e.moved, e.tag) for e in events]


def test_a_seed_gives_the_same_events() -> None:
    def run(**settings: Any) -> list[tuple[str, str, bool, str | None]]:
        return signature(CallbellSandbox(contacts=80, **settings).apply_events(200))

    same = run(seed=5)

    assert run(seed=5) == same
    assert run(seed=6, event_seed=5) != same, "the same events need the same starting data"
    assert run(seed=5, event_seed=5) == same
    assert run(seed=5, event_seed=6) != same


def test_configuring_event_seed_restarts_the_sequence() -> None:
    sandbox = CallbellSandbox(contacts=80, seed=5)
    sandbox.configure(event_seed=11)

    assert signature(sandbox.apply_events(50)) == signature(
        CallbellSandbox(contacts=80, seed=5, event_seed=11).apply_events(50)
    )


# The background thread


def test_events_flow_while_running_and_pause_at_once(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=50, events_per_second=500)
    wait_for(lambda: len(sandbox.events()) >= 10)

    sandbox.pause_events()
    paused_at = len(sandbox.events())
    time.sleep(0.2)

    assert len(sandbox.events()) == paused_at
    sandbox.resume_events()
    wait_for(lambda: len(sandbox.events()) > paused_at + 10)


def test_events_paused_block_restores_the_previous_state(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=50, events_per_second=500)

    with sandbox.events_paused():
        count = len(sandbox.events())
        with sandbox.events_paused():
            pass
        applied = sandbox.apply_events(3)
        time.sleep(0.1)
        assert len(sandbox.events()) == count + 3
        assert [e.index for e in applied] == [count, count + 1, count + 2]

    wait_for(lambda: len(sandbox.events()) > count + 3)


def test_a_static_account_has_no_events(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=50)
    time.sleep(0.1)

    assert sandbox.events() == []
    sandbox.configure(events_per_second=500)
    wait_for(lambda: len(sandbox.events()) > 0)


def test_the_rate_is_roughly_honoured(make_sandbox: MakeSandbox) -> None:
    started = time.monotonic()
    sandbox = make_sandbox(contacts=200, events_per_second=50)
    time.sleep(1)

    with sandbox.events_paused():
        elapsed = time.monotonic() - started
    count = len(sandbox.events())

    assert 0.3 * 50 * elapsed <= count <= 50 * elapsed + 1


def test_events_stop_with_the_server() -> None:
    before = set(threading.enumerate())
    sandbox = CallbellSandbox(contacts=20, events_per_second=500).start()
    [pump] = [t for t in set(threading.enumerate()) - before if t.name == "callbell-sandbox-events"]
    wait_for(lambda: len(sandbox.events()) > 0)

    sandbox.stop()
    count = len(sandbox.events())
    time.sleep(0.1)

    assert len(sandbox.events()) == count
    assert not pump.is_alive()


# The schedule, on a clock of our own


def due_events(schedule: Schedule, rate: float, now: float) -> int:
    """How many events the pump applies back to back at ``now``."""
    count = 0
    while (delay := schedule.wait(rate, now)) is not None and delay <= 0:
        schedule.advance()
        count += 1
    return count


def test_schedule_spaces_events_evenly_and_catches_up() -> None:
    schedule = Schedule()

    assert schedule.wait(10, now=100.0) == pytest.approx(0.1)
    assert due_events(schedule, 10, now=100.45) == 4
    assert schedule.wait(10, now=100.45) == pytest.approx(0.05)


def test_schedule_never_bursts_more_than_a_second_s_worth() -> None:
    schedule = Schedule()
    schedule.wait(10, now=0.0)

    assert due_events(schedule, 10, now=60.0) in (10, 11)  # 59.0 to 60.0, give or take rounding
    assert 0 < (schedule.wait(10, now=60.0) or 0) <= 0.1 + 1e-9


def test_schedule_starts_afresh_on_a_new_rate() -> None:
    schedule = Schedule()
    schedule.wait(10, now=0.0)

    assert schedule.wait(0, now=5.0) is None
    assert schedule.wait(4, now=5.0) == pytest.approx(0.25)
    assert due_events(schedule, 4, now=5.3) == 1
