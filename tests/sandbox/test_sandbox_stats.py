"""Request statistics: totals, methods, statuses, faults and the busiest second."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_callbell.sandbox.traffic import RequestStats
from tests.sandbox.client import ApiClient

if TYPE_CHECKING:
    from tests.sandbox.conftest import MakeSandbox


def test_counts_every_request_by_status(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5)
    client = ApiClient(sandbox)

    for _ in range(4):
        client.get("/contacts")
    client.get("/nowhere")
    ApiClient(sandbox, token=None).get("/contacts")

    stats = sandbox.stats
    assert stats.total_requests == 6
    assert stats.by_status == {200: 4, 404: 1, 401: 1}
    assert stats.max_requests_per_second == 6


def test_counts_every_request_by_method(make_sandbox: MakeSandbox) -> None:
    """Writes are told apart from reads, refused requests included: 429s and 401s count too."""
    sandbox = make_sandbox(contacts=5)
    client = ApiClient(sandbox)
    first, second, third = (contact["uuid"] for contact in sandbox.contacts()[:3])

    client.get("/contacts")
    client.get(f"/contacts/{first}")
    client.patch(f"/contacts/{first}", {"note": "called back"})
    client.patch(f"/contacts/{second}", {"tags": ["hot"]})
    client.send("DELETE", f"/contacts/{third}")
    client.get("/contacts")
    sandbox.configure(throttle_rate=1.0)
    refused = client.patch(f"/contacts/{second}", {"note": "too soon"})
    ApiClient(sandbox, token=None).send("DELETE", f"/contacts/{second}")

    stats = sandbox.stats
    assert refused.status_code == 429
    assert stats.by_method == {"GET": 3, "PATCH": 3, "DELETE": 2}
    assert stats.total_requests == sum(stats.by_method.values())
    assert stats.by_status == {200: 6, 429: 1, 401: 1}
    assert stats.faults == {"throttle": 1}
    assert sandbox.get_contact(first)["note"] == "called back"
    assert sandbox.get_contact(second)["tags"] == ["hot"]


def test_reset(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5, error_rate=1.0)
    client = ApiClient(sandbox)
    client.get("/contacts")

    client.patch(f"/contacts/{sandbox.contacts()[0]['uuid']}", {"note": "x"})

    sandbox.reset_stats()
    client.get("/auth/me")

    stats = sandbox.stats
    assert (stats.total_requests, stats.by_method) == (1, {"GET": 1})
    assert (stats.by_status, stats.faults) == ({200: 1}, {})
    assert (stats.rate_limited, stats.max_requests_per_second) == (0, 1)


def test_snapshots_are_detached(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5)
    before = sandbox.stats

    ApiClient(sandbox).get("/contacts")

    assert before.total_requests == 0
    assert before.by_method == {}
    assert before.by_status == {}


def test_busiest_second_uses_a_sliding_window() -> None:
    now = [0.0]
    stats = RequestStats(clock=lambda: now[0])

    for moment in (0.0, 0.5, 0.9, 1.2, 1.95, 2.0, 2.1):
        now[0] = moment
        stats.arrived("GET")

    # (0.5, 0.9, 1.2) and (1.2, 1.95, 2.0, 2.1) share a window; 0.0 and 1.0 would not.
    assert stats.snapshot().max_requests_per_second == 4
    assert stats.snapshot().total_requests == 7
