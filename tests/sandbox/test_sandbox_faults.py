"""The rate limiter, every injected fault, the per-request bound, determinism, latency."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_provider_callbell.sandbox import SandboxSettings, faults
from airflow_provider_callbell.sandbox.faults import FaultInjector, request_key
from airflow_provider_callbell.sandbox.traffic import RateLimiter
from tests.sandbox.client import ApiClient

if TYPE_CHECKING:
    from tests.sandbox.conftest import MakeSandbox


def outcome(client: ApiClient, path: str, **params: Any) -> str:
    """What a request met: the status and body kind, or the transport failure."""
    try:
        response = client.get(path, **params)
    except requests.exceptions.ChunkedEncodingError:
        return "short-write"
    except requests.ConnectionError:
        return "dropped"
    try:
        response.json()
    except ValueError:
        kind = "html" if response.headers["Content-Type"].startswith("text/html") else "cut-json"
        return f"{response.status_code} {kind}"
    return f"{response.status_code} json"


# Rate limiting


@pytest.mark.parametrize("retry_after_format", ["seconds", "http-date", "none"])
def test_rate_limit_answers_429(make_sandbox: MakeSandbox, retry_after_format: str) -> None:
    sandbox = make_sandbox(contacts=5, rate_limit=5, retry_after_format=retry_after_format)
    client = ApiClient(sandbox)

    responses = [client.get("/contacts") for _ in range(8)]

    assert [r.status_code for r in responses] == [200] * 5 + [429] * 3
    limited = responses[-1]
    assert limited.json() == {"error": "Too many requests"}
    if retry_after_format == "seconds":
        assert limited.headers["Retry-After"] == "1"
    elif retry_after_format == "http-date":
        delay = parsedate_to_datetime(limited.headers["Retry-After"]) - datetime.now(UTC)
        assert 0 < delay.total_seconds() <= 3
    else:
        assert "Retry-After" not in limited.headers
    assert sandbox.stats.rate_limited == 3
    assert sandbox.stats.faults == {}


def test_rate_limit_counts_only_authenticated_requests(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5, rate_limit=3)

    for _ in range(5):
        ApiClient(sandbox, token="intruder").get("/auth/me")

    assert ApiClient(sandbox).get("/auth/me").status_code == 200


def test_rate_limiter_window_slides() -> None:
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0])

    assert [limiter.acquire("t", 2) for _ in range(2)] == [None, None]
    now[0] = 100.25
    assert limiter.acquire("t", 2) == pytest.approx(0.75)
    assert limiter.acquire("other", 2) is None
    now[0] = 101.0
    assert [limiter.acquire("t", 2) for _ in range(2)] == [None, None]
    assert limiter.acquire("t", 2) == pytest.approx(1.0)


# Injected faults


def test_errors_alternate_statuses_and_bodies(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=25, error_rate=1.0, max_faults_per_request=2)
    client = ApiClient(sandbox)

    first = [outcome(client, "/contacts", page=1) for _ in range(3)]
    second = [outcome(client, "/contacts", page=2) for _ in range(3)]

    assert first == ["500 json", "502 html", "200 json"]
    assert second == ["503 json", "500 html", "200 json"]
    assert sandbox.stats.faults == {"error": 4}


def test_error_bodies(make_sandbox: MakeSandbox) -> None:
    client = ApiClient(make_sandbox(contacts=5, error_rate=1.0))

    json_error, html_error = client.get("/contacts"), client.get("/contacts")

    assert json_error.json() == {"error": "Internal server error"}
    assert html_error.headers["Content-Type"] == "text/html; charset=utf-8"
    assert html_error.text == "<html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.mark.parametrize(("retry_after_format", "present"), [("seconds", True), ("none", False)])
def test_throttle(make_sandbox: MakeSandbox, retry_after_format: str, present: bool) -> None:
    sandbox = make_sandbox(contacts=5, throttle_rate=1.0, retry_after_format=retry_after_format)
    client = ApiClient(sandbox)

    throttled = client.get("/contacts")

    assert throttled.status_code == 429
    assert ("Retry-After" in throttled.headers) is present
    assert [outcome(client, "/contacts") for _ in range(2)] == ["429 json", "200 json"]
    assert sandbox.stats.faults == {"throttle": 2}
    assert sandbox.stats.rate_limited == 0


def test_drop(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5, drop_rate=1.0)
    client = ApiClient(sandbox)

    assert [outcome(client, "/contacts") for _ in range(3)] == ["dropped", "dropped", "200 json"]
    assert sandbox.stats.faults == {"drop": 2}
    assert sandbox.stats.by_status == {200: 1}
    assert sandbox.stats.total_requests == 3


def test_truncate_alternates_short_writes_and_cut_bodies(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=30, truncate_rate=1.0)
    client = ApiClient(sandbox)
    whole = sandbox.contacts()[:20]

    assert outcome(client, "/contacts") == "short-write"
    cut = client.get("/contacts")
    assert cut.status_code == 200
    assert int(cut.headers["Content-Length"]) == len(cut.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    assert client.get("/contacts").json()["contacts"] == whole
    assert sandbox.stats.faults == {"truncate": 2}


def test_truncation_spares_error_answers(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5, truncate_rate=1.0, page_cap=1)
    client = ApiClient(sandbox)

    assert client.get("/contacts", page=2).json() == {"error": "Pagination limit exceeded"}
    assert client.get("/contacts/" + "0" * 32).json() == {"error": "Contact not found"}
    assert sandbox.stats.faults == {}


def test_faults_spare_other_endpoints(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5, error_rate=1.0)
    client = ApiClient(sandbox)

    assert client.get("/auth/me").status_code == 200
    assert client.get("/templates").status_code == 200
    assert client.get(f"/templates/{sandbox.templates[0]['uuid']}").status_code == 200
    assert client.get("/contacts").status_code == 500
    assert client.get(f"/contacts/{sandbox.contacts()[1]['uuid']}").status_code == 502


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_faults_per_request_are_bounded(make_sandbox: MakeSandbox, limit: int) -> None:
    sandbox = make_sandbox(contacts=5, drop_rate=0.5, error_rate=0.5, max_faults_per_request=limit)
    client = ApiClient(sandbox)

    results = [outcome(client, "/contacts", page=1) for _ in range(limit + 1)]

    assert results[-1] == "200 json"
    assert all(result != "200 json" for result in results[:-1])
    # Another query string is another request, with a budget of its own.
    assert (outcome(client, "/contacts", page=1, tags="x") == "200 json") is (limit == 0)


def run_mixed_faults(make_sandbox: MakeSandbox, seed: int) -> list[str]:
    sandbox = make_sandbox(
        contacts=40,
        seed=seed,
        error_rate=0.2,
        throttle_rate=0.1,
        drop_rate=0.1,
        truncate_rate=0.1,
        max_faults_per_request=100,
    )
    client = ApiClient(sandbox)
    return [outcome(client, "/contacts", page=n % 3 + 1) for n in range(40)]


def test_faults_are_deterministic_for_a_seed(make_sandbox: MakeSandbox) -> None:
    first = run_mixed_faults(make_sandbox, seed=3)

    assert run_mixed_faults(make_sandbox, seed=3) == first
    assert run_mixed_faults(make_sandbox, seed=4) != first
    assert {"200 json", "dropped", "short-write", "429 json"} <= set(first)
    assert {"500 json", "502 html"} & set(first)


def test_faults_switched_on_at_runtime(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5)
    client = ApiClient(sandbox)
    assert client.get("/contacts").status_code == 200

    sandbox.configure(error_rate=1.0)

    assert client.get("/contacts").status_code == 500


@pytest.mark.parametrize(("latency", "jitter"), [(0.15, 0.0), (0.1, 0.1)])
def test_latency(make_sandbox: MakeSandbox, latency: float, jitter: float) -> None:
    client = ApiClient(make_sandbox(contacts=5, latency=latency, latency_jitter=jitter))

    started = time.perf_counter()
    client.get("/contacts")
    elapsed = time.perf_counter() - started

    assert latency <= elapsed < latency + jitter + 0.5


def test_a_request_is_remembered_by_a_digest_of_fixed_size() -> None:
    long_read = request_key("GET", "/v1/contacts?pad=" + "x" * 60_000, b"")
    big_write = request_key("POST", "/v1/contacts", b"{" + b" " * 60_000 + b"}")

    assert len(long_read) == len(big_write) == len(request_key("GET", "/v1/contacts", b"")) == 32
    # The parts cannot run together: a target's end moved into the body is another request.
    assert request_key("POST", "/v1/a b", b"c") != request_key("POST", "/v1/a", b"b c")


def test_the_fault_counts_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "REMEMBERED_REQUESTS", 3)
    injector = FaultInjector(seed=0)
    settings = SandboxSettings(error_rate=1.0, max_faults_per_request=2)

    sizes = []
    for number in range(10):
        assert injector.draw(settings, request_key("GET", f"/v1/contacts?x={number}", b""), write=False)
        sizes.append(injector.remembered)

    assert sizes == [1, 2, 3, 3, 3, 3, 3, 3, 3, 3]


def test_recent_requests_keep_their_fault_budget_past_the_bound(
    make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faults, "REMEMBERED_REQUESTS", 3)
    client = ApiClient(make_sandbox(contacts=5, error_rate=1.0, max_faults_per_request=1))

    first_tries = [outcome(client, "/contacts", x=number)[:3] for number in range(10)]
    retries = [outcome(client, "/contacts", x=number)[:3] for number in (9, 7, 10, 7, 9, 8)]

    assert first_tries == ["500", "502", "503"] * 3 + ["500"]
    # 7, 8 and 9 are remembered, so their retries get through; retried, 7 is recent again:
    # the new 10 pushes 8 out, not 7, and 8 fails once more.
    assert retries == ["200", "200", "502", "200", "200", "503"]
