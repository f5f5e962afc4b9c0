"""Live-account settings for the tests, and the check every live walk must pass."""

from __future__ import annotations

from collections.abc import Iterable

from airflow_provider_callbell.sandbox.truth import WalkExpectation

#: A busy inbox, sped up so that short test walks see hundreds of changes.
BUSY = {
    "events_per_second": 400.0,
    "event_mix": {"message": 0.7, "create": 0.1, "delete": 0.05, "tag_add": 0.1, "tag_remove": 0.05},
    "event_tags": ("lead",),
}


def assert_exact(walked: Iterable[str], wanted: WalkExpectation) -> None:
    """Every contact that had to come out exactly once, nothing twice, nothing unexpected."""
    check = wanted.check(walked)
    assert not check.duplicated, f"{len(check.duplicated)} contacts handed out twice"
    assert not check.missed, f"{len(check.missed)} contacts missed"
    assert not check.unexpected, f"{len(check.unexpected)} contacts handed out that the walk should not see"
    assert check.exact
