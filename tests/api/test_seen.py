"""SeenContacts: exact while lanes need it, 8-byte digests for the long tail of a large walk."""

from __future__ import annotations

from airflow_provider_callbell.api.seen import SeenContacts


def test_lanes_are_remembered_exactly_while_several_run() -> None:
    seen = SeenContacts(exact_limit=2, recent=1)
    for number in range(5):
        seen.add(f"u{number}", number % 3, alone=False)

    assert [seen.lane_of(f"u{number}") for number in range(5)] == [0, 1, 2, 0, 1]
    assert seen.lane_of("other") is None


def test_the_last_lane_spills_to_digests_past_the_limit_keeping_recent_ones_exact() -> None:
    seen = SeenContacts(exact_limit=2, recent=2)
    for number in range(6):
        seen.add(f"u{number}", 4, alone=True)

    assert len(seen) == 6
    assert [seen.lane_of(f"u{number}") for number in range(6)] == [4, 4, None, None, 4, 4]


def test_unseen_consults_the_digests() -> None:
    seen = SeenContacts(exact_limit=1, recent=1)
    for number in range(100):
        seen.add(f"u{number}", 0, alone=True)

    assert seen.unseen(["u0", "u50", "u99", "new", "u98", "other"]) == ["new", "other"]
