"""expected_walk: what a walk between two states of a live account must hand out."""

from __future__ import annotations

from airflow_provider_callbell.sandbox import CallbellSandbox


def test_moves_change_nothing_of_what_must_come_out() -> None:
    sandbox = CallbellSandbox(contacts=30, seed=2, event_mix={"message": 1})
    before = sandbox.state()
    sandbox.apply_events(5)
    wanted = sandbox.expected_walk(before, sandbox.state())

    assert wanted.must == wanted.may == before.uuids
    assert len(wanted.moved()) >= 1
    assert wanted.check(sorted(before.uuids)).exact


def test_created_and_deleted_contacts_may_come_out_once() -> None:
    for kind in ("create", "delete"):
        sandbox = CallbellSandbox(contacts=30, seed=2, event_mix={kind: 1})
        before = sandbox.state()
        hit = {event.uuid for event in sandbox.apply_events(3)}
        wanted = sandbox.expected_walk(before, sandbox.state())

        assert not hit & wanted.must
        assert hit <= wanted.may
        assert wanted.check([*wanted.must, *hit]).exact
        assert wanted.check(list(wanted.must)).exact


def test_check_names_what_was_missed_repeated_or_unexpected() -> None:
    sandbox = CallbellSandbox(contacts=30, seed=2)
    before = sandbox.state()
    wanted = sandbox.expected_walk(before, sandbox.state())
    walked = sorted(before.uuids)

    check = wanted.check([*walked[1:], walked[2], "stranger"])

    assert check.missed == {walked[0]}
    assert check.duplicated == {walked[2]}
    assert check.unexpected == {"stranger"}
    assert not check.exact


def test_a_tag_filter_counts_tagging_as_coming_and_going() -> None:
    sandbox = CallbellSandbox(
        contacts=30, seed=2, event_mix={"tag_add": 1, "tag_remove": 1}, event_tags=("lead",)
    )
    before = sandbox.state()
    events = sandbox.apply_events(6)
    after = sandbox.state()
    wanted = sandbox.expected_walk(before, after, tag="LEAD")

    leads_throughout = {u for u in before.uuids if "lead" in before.tags_of(u) and "lead" in after.tags_of(u)}
    assert wanted.must == leads_throughout - {event.uuid for event in events}
    assert {event.uuid for event in events} <= wanted.may
    leads_then_or_now = {u for u in before.uuids if "lead" in before.tags_of(u) | after.tags_of(u)}
    assert wanted.may == leads_then_or_now | {event.uuid for event in events}
