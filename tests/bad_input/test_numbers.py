"""Numbers: infinities, NaN, bools, huge and fractional values are refused by name, before any request."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from tenacity import RetryCallState

from airflow_provider_callbell.api.retry import RetryPolicy
from airflow_provider_callbell.connection import SETTINGS
from airflow_provider_callbell.exceptions import CallbellConfigurationError, CallbellServerError
from airflow_provider_callbell.hooks.callbell import CallbellHook
from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook
from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator
from airflow_provider_callbell.sensors.contacts import CallbellNewLeadsSensor
from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsTrigger
from tests.bad_input.conftest import NOT_NUMBERS, NOT_WHOLE
from tests.conftest import quick_hook

SETTING_CASES = [
    (name, value)
    for name, setting in SETTINGS.items()
    for value in [*NOT_NUMBERS, setting.maximum * 2, *([1.5] if setting.whole else [0, 1e-9])]
    if not (setting.whole and value in (False, "-0"))  # zero is a valid number of retries
]


def _id(value: Any) -> str:
    return repr(value)[:20]


@pytest.mark.parametrize(("name", "value"), SETTING_CASES, ids=_id)
def test_hook_settings(name: str, value: Any) -> None:
    for hook in (CallbellHook, CallbellAsyncHook):
        with pytest.raises(ValueError, match=f"^{name} must be a (whole )?number from"):
            hook(**{name: value})


@pytest.mark.parametrize(
    ("name", "value"), [(n, v) for n, v in SETTING_CASES if v != "" and not isinstance(v, complex)], ids=_id
)
def test_connection_extras(monkeypatch: pytest.MonkeyPatch, name: str, value: Any) -> None:
    extra = json.dumps({name: value})  # inf and nan as JSON's Infinity and NaN, which Airflow reads
    monkeypatch.setenv(
        "AIRFLOW_CONN_CALLBELL_DEFAULT",
        json.dumps({"conn_type": "callbell", "password": "a-token-1234", "extra": extra}),
    )

    with pytest.raises(
        CallbellConfigurationError, match=f"'callbell_default' has a wrong extra: {name} must be"
    ):
        CallbellHook().config  # noqa: B018


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_extra_is_the_default(monkeypatch: pytest.MonkeyPatch, empty: str) -> None:
    """The connection form sends "" for a field left empty; blank means the same, as for the Redis id."""
    extra = {"timeout": empty, "rate_limit_redis_conn_id": empty}
    monkeypatch.setenv(
        "AIRFLOW_CONN_CALLBELL_DEFAULT",
        json.dumps({"conn_type": "callbell", "password": "a-token-1234", "extra": extra}),
    )

    assert CallbellHook().config.timeout == SETTINGS["timeout"].default


@pytest.mark.parametrize("argument", ["max_contacts", "max_xcom_contacts", "concurrency"])
@pytest.mark.parametrize("value", NOT_WHOLE, ids=_id)
def test_operator_counts(argument: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"'export': {argument} must be a whole number from 1 to"):
        CallbellListContactsOperator(task_id="export", **{argument: value})


@pytest.mark.parametrize("argument", ["min_leads", "max_xcom_contacts"])
@pytest.mark.parametrize("value", NOT_WHOLE, ids=_id)
def test_sensor_counts(argument: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"'wait': {argument} must be a whole number from 1 to"):
        CallbellNewLeadsSensor(task_id="wait", **{argument: value})


@pytest.mark.parametrize("value", NOT_WHOLE, ids=_id)
def test_hook_concurrency(sandbox: Any, value: Any) -> None:
    with pytest.raises(ValueError, match="concurrency must be a whole number from 1 to 64"):
        quick_hook().iter_contacts(concurrency=value)
    with pytest.raises(ValueError, match="concurrency must be a whole number from 1 to 64"):
        CallbellAsyncHook().iter_contacts(concurrency=value)  # at the call, as the sync hook
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize(
    ("argument", "values"),
    [
        ("poll_interval", [*NOT_NUMBERS, 0, 86_401]),
        ("min_leads", NOT_WHOLE),
        ("max_leads", NOT_WHOLE),
    ],
)
def test_trigger_numbers(argument: str, values: list[Any]) -> None:
    for value in values:
        with pytest.raises(ValueError, match=f"^{argument} must be a (whole )?number from"):
            CallbellNewLeadsTrigger(since="2026-01-01T00:00:00+00:00", baseline=[], **{argument: value})


def test_numbers_of_other_types_are_read() -> None:
    hook = CallbellHook(timeout=Decimal("2.5"), max_retries=Fraction(6, 2), retry_backoff=" +0.25 ")  # type: ignore[arg-type]

    assert (hook._overrides["timeout"], hook._overrides["max_retries"], hook._overrides["retry_backoff"]) == (
        2.5,
        3,
        0.25,
    )


def test_text_numbers_from_templates_are_read() -> None:
    operator = CallbellListContactsOperator(task_id="export", max_contacts=" 25 ", concurrency="4")  # type: ignore[arg-type]
    sensor = CallbellNewLeadsSensor(task_id="wait", min_leads="3")

    assert (operator._check()[1].max_contacts, operator.concurrency, sensor._min_leads) == (25, 4, 3)


def test_retry_waits_are_capped_jitter_included() -> None:
    """The largest backoff allowed, doubled ten times, still waits at most max_backoff."""
    policy = RetryPolicy(max_retries=12, backoff=SETTINGS["retry_backoff"].maximum)
    wait = policy._options(log=None)["wait"]  # type: ignore[arg-type]
    waits = []
    for attempt in range(1, 12):
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt
        state.set_exception((CallbellServerError, CallbellServerError("boom", status=503), None))
        waits.append(wait(state))

    assert max(waits) <= policy.max_backoff
    assert min(waits) > 0


def test_a_fraction_a_float_rounds_to_a_whole_number_is_no_whole_number() -> None:
    from airflow_provider_callbell.arguments import whole_number

    with pytest.raises(ValueError, match="max_contacts must be a whole number"):
        whole_number(Fraction(50000000000000001, 10**16), "max_contacts")
    assert whole_number(Fraction(10, 2), "max_contacts") == 5


@pytest.mark.parametrize("value", [1.5, 200.5, "2.5", 9999.99])
def test_a_rate_above_one_is_whole_as_requests_are(monkeypatch: pytest.MonkeyPatch, value: Any) -> None:
    """At most 1.5 requests in any second would be 1: the fraction is refused, not dropped."""
    for hook in (CallbellHook, CallbellAsyncHook):
        with pytest.raises(
            ValueError, match=r"^max_requests_per_second must be whole from 1 to 10000, or a fraction"
        ):
            hook(max_requests_per_second=value)
    monkeypatch.setenv(
        "AIRFLOW_CONN_CALLBELL_DEFAULT",
        json.dumps(
            {"conn_type": "callbell", "password": "a-token-1234", "extra": {"max_requests_per_second": value}}
        ),
    )
    with pytest.raises(
        CallbellConfigurationError, match="wrong extra: max_requests_per_second must be whole"
    ):
        CallbellHook().config  # noqa: B018


@pytest.mark.parametrize(("value", "read"), [(0.5, 0.5), ("0.25", 0.25), (200.0, 200), ("300", 300)])
def test_fractions_below_one_and_whole_rates_are_read(
    monkeypatch: pytest.MonkeyPatch, value: Any, read: float
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CALLBELL_DEFAULT", json.dumps({"conn_type": "callbell", "password": "a-token-1234"})
    )

    assert CallbellHook(max_requests_per_second=value).config.max_requests_per_second == read


def test_the_hooks_durations_may_be_timedeltas_as_the_operators_are() -> None:
    from datetime import timedelta

    hook = CallbellHook(
        timeout=timedelta(seconds=5),
        connect_timeout=timedelta(seconds=3),
        retry_backoff=timedelta(milliseconds=250),
    )

    assert hook._overrides == {"timeout": 5.0, "connect_timeout": 3.0, "retry_backoff": 0.25}
    with pytest.raises(ValueError, match=r"timeout must be a number from 0\.001 to 3600, got 7200\.0"):
        CallbellHook(timeout=timedelta(hours=2))
    with pytest.raises(ValueError, match="max_retries must be a whole number"):
        CallbellHook(max_retries=timedelta(seconds=3))  # type: ignore[arg-type]
