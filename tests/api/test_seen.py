"""SeenContacts: exact while lanes need it, 8-byte digests for the long tail of a large walk."""

from __future__ import annotations

from airflow_provider_callbell.api import seen as seen_module
from airflow_provider_callbell.api.seen import SeenContacts


def test_lanes_are_remembered_exactly_while_several_run() -> None:
    seen = SeenContacts(exact_limit=2)
    for number in range(5):
        seen.add(f"u{number}", number % 3, alone=False)

    assert [seen.lane_of(f"u{number}") for number in range(5)] == [0, 1, 2, 0, 1]
    assert seen.lane_of("other") is None
    assert "other" not in seen


def test_the_last_lane_goes_to_digests_past_the_limit(monkeypatch) -> None:
    monkeypatch.setattr(seen_module, "RUN", 10)
    seen = SeenContacts(exact_limit=5)
    for number in range(1000):
        seen.add(f"u{number}", 4, alone=True)

    assert len(seen) == 1000
    assert [seen.lane_of(f"u{number}") for number in (0, 4, 5, 999)] == [4, 4, None, None]
    assert all(f"u{number}" in seen for number in range(1000))
    assert not any(f"v{number}" in seen for number in range(1000))
