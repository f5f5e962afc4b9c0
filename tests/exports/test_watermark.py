"""The high-water mark of incremental exports: windows, retries, and what a Variable may hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_callbell.exports.watermark import KEPT_RUNS, SETTLE, Watermark, Window

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_the_first_run_exports_everything_up_to_a_minute_before_it_starts() -> None:
    mark = Watermark()

    assert mark.window_for("run-1", NOW) == Window(None, NOW - SETTLE)


def test_each_run_starts_where_the_last_successful_one_ended() -> None:
    mark = Watermark()
    first = mark.window_for("run-1", NOW)
    mark.advance(first)

    second = mark.window_for("run-2", NOW + timedelta(hours=1))

    assert second == Window(first.created_before, NOW + timedelta(hours=1) - SETTLE)


def test_a_failed_run_leaves_its_window_to_the_next_one() -> None:
    mark = Watermark()
    mark.advance(mark.window_for("run-1", NOW))
    failed = mark.window_for("run-2", NOW + timedelta(hours=1))

    after_failure = mark.window_for("run-3", NOW + timedelta(hours=2))

    assert after_failure.created_after == failed.created_after == NOW - SETTLE


def test_a_retried_or_cleared_run_gets_its_own_window_again_after_later_runs() -> None:
    mark = Watermark()
    first = mark.window_for("run-1", NOW)
    mark.advance(first)
    mark.advance(mark.window_for("run-2", NOW + timedelta(hours=1)))

    assert mark.window_for("run-1", NOW + timedelta(days=3)) == first
    assert mark.created_before == NOW + timedelta(hours=1) - SETTLE


def test_advancing_with_an_older_window_never_moves_the_mark_back() -> None:
    mark = Watermark()
    old = mark.window_for("run-1", NOW)
    mark.advance(mark.window_for("run-2", NOW + timedelta(hours=1)))

    mark.advance(old)

    assert mark.created_before == NOW + timedelta(hours=1) - SETTLE


def test_created_after_bounds_the_first_run_only_from_below() -> None:
    floor = NOW - timedelta(days=2)
    mark = Watermark()

    assert mark.window_for("run-1", NOW, floor) == Window(floor, NOW - SETTLE)
    mark.advance(mark.runs["run-1"])
    assert mark.window_for("run-2", NOW + timedelta(hours=1), floor).created_after == NOW - SETTLE


def test_a_mark_in_the_future_gives_an_empty_window_not_a_reversed_one() -> None:
    mark = Watermark(created_before=NOW + timedelta(days=1))

    window = mark.window_for("run-1", NOW)

    assert window.created_after == window.created_before == NOW + timedelta(days=1)


def test_only_the_most_recent_runs_are_remembered() -> None:
    mark = Watermark()
    for number in range(KEPT_RUNS + 5):
        mark.window_for(f"run-{number}", NOW + timedelta(minutes=number))

    assert len(mark.runs) == KEPT_RUNS
    assert "run-4" not in mark.runs
    assert "run-5" in mark.runs


def test_the_mark_round_trips_through_json() -> None:
    mark = Watermark()
    mark.advance(mark.window_for("run-1", NOW))
    mark.window_for("run-2", NOW + timedelta(hours=1))

    assert Watermark.parse(mark.dump(), "key") == mark
    assert mark.dump()["created_before"] == "2026-11-24T11:59:00+00:00"


def test_a_mark_set_by_hand_with_only_a_moment_is_read() -> None:
    mark = Watermark.parse({"created_before": "2026-11-01T00:00:00Z"}, "key")

    assert mark.window_for("run-1", NOW).created_after == datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-01",
        ["2026-11-01"],
        {"created_before": "last tuesday"},
        {"created_before": None, "runs": {"run-1": "2026-11-01"}},
        {"created_before": None, "runs": {"run-1": ["2026-11-01T00:00:00Z", None]}},
        {"createdBefore": "2026-11-01T00:00:00Z"},  # misspelt: read as no mark, everything again
        {"created_before": "2026-W44-1"},  # a week date: created_after refuses it, so does the mark
        {"created_before": 1_793_491_200},
        {"created_before": None, "runs": {"run-1": ["2026-12-01T00:00:00Z", "2026-01-01T00:00:00Z"]}},
    ],
)
def test_a_variable_holding_something_else_is_a_clear_error(value: object) -> None:
    with pytest.raises(ValueError, match=r"Variable 'my_key' does not hold a Callbell export watermark"):
        Watermark.parse(value, "my_key")
