"""The connection's rate_limit_redis_conn_id: checked early, and never a silent per-hook limit."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from airflow_provider_callbell.api.budget import LocalBudget, SharedBudget, account_key
from airflow_provider_callbell.exceptions import CallbellConfigurationError
from airflow_provider_callbell.get_provider_info import get_provider_info
from airflow_provider_callbell.hooks.callbell import CallbellHook
from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook

TOKEN = "s3cr3t-t0ken-of-the-account"


def connect(monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    connection = {"conn_type": "callbell", "password": TOKEN, "host": "http://127.0.0.1:9/v1", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", json.dumps(connection))


@pytest.mark.parametrize(
    "value", [3, True, ["budget"], {"id": "budget"}, "budget redis", " budget", "None", "x" * 251]
)
def test_a_redis_conn_id_that_is_no_connection_id_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: Any
) -> None:
    connect(monkeypatch, rate_limit_redis_conn_id=value)

    with pytest.raises(
        CallbellConfigurationError, match="rate_limit_redis_conn_id must be an Airflow connection id"
    ):
        CallbellHook().config  # noqa: B018


@pytest.mark.parametrize("value", [None, "", "  "])
def test_no_redis_conn_id_is_a_limit_per_hook(monkeypatch: pytest.MonkeyPatch, value: Any) -> None:
    connect(monkeypatch, rate_limit_redis_conn_id=value)

    assert CallbellHook().config.rate_limit_redis_conn_id is None
    assert isinstance(CallbellHook().budget, LocalBudget)


def test_the_redis_conn_id_is_a_known_extra(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_BUDGET_REDIS", json.dumps({"conn_type": "redis", "host": "127.0.0.1", "port": 6379})
    )
    connect(monkeypatch, rate_limit_redis_conn_id="budget_redis", max_requests_per_second=250)
    caplog.set_level(logging.WARNING)

    budget = CallbellHook().budget

    assert isinstance(budget, SharedBudget)
    assert (budget.redis_conn_id, budget.max_requests_per_second) == ("budget_redis", 250)
    assert budget.key == account_key(TOKEN)
    assert "does not use" not in caplog.text


def test_a_redis_connection_that_does_not_exist_fails_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, rate_limit_redis_conn_id="no_such_redis")
    message = "rate_limit_redis_conn_id names 'no_such_redis', which is no Airflow connection"

    with pytest.raises(CallbellConfigurationError, match=message) as caught:
        CallbellHook().budget  # noqa: B018
    assert caught.value.__context__ is None

    async def first_page() -> None:
        hook = CallbellAsyncHook()
        try:
            await hook.request("GET", "contacts")
        finally:
            await hook.aclose()

    with pytest.raises(CallbellConfigurationError, match=message):
        asyncio.run(first_page())


@pytest.mark.parametrize(
    ("redis", "what"),
    [
        ("callbell_default", "a 'callbell' connection"),
        ({"conn_type": "http", "host": "127.0.0.1", "port": 6379, "password": "other-secret"}, "a 'http'"),
        ({"conn_type": "redis", "host": "127.0.0.1"}, "a 'redis' connection without a host and a port"),
    ],
    ids=["the Callbell connection itself", "another service's", "no port"],
)
def test_a_redis_conn_id_naming_no_usable_redis_fails_before_any_request(
    monkeypatch: pytest.MonkeyPatch, redis: Any, what: str
) -> None:
    """Another service's connection would get its password (or the Callbell token) as Redis AUTH."""
    if isinstance(redis, dict):
        monkeypatch.setenv("AIRFLOW_CONN_OTHER", json.dumps(redis))
    connect(monkeypatch, rate_limit_redis_conn_id=redis if isinstance(redis, str) else "other")

    with pytest.raises(
        CallbellConfigurationError, match=f"rate_limit_redis_conn_id names '.*', {what}"
    ) as caught:
        CallbellHook().budget  # noqa: B018
    assert TOKEN not in str(caught.value)
    assert "other-secret" not in str(caught.value)


def test_the_account_key_is_a_digest_holding_no_piece_of_the_token() -> None:
    key = account_key(TOKEN)

    assert key == account_key(TOKEN)
    assert key != account_key(TOKEN + "x")
    assert not any(TOKEN[i : i + 5] in key for i in range(len(TOKEN) - 4))


def test_the_connection_form_offers_the_redis_conn_id() -> None:
    (connection_type,) = get_provider_info()["connection-types"]

    field = connection_type["conn-fields"]["rate_limit_redis_conn_id"]
    assert field["schema"] == {"type": ["string", "null"]}
    assert "redis connection" in field["description"]
