"""One meaning per value: nothing that merely looks right is accepted, None means the same everywhere."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

import pytest

from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator
from airflow_provider_callbell.sandbox import CallbellSandbox
from airflow_provider_callbell.sensors.contacts import CallbellNewLeadsSensor
from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsTrigger
from tests.conftest import SandboxFactory, connect, quick_hook

NOT_FLAGS: list[Any] = ["yes", "no", "True", "false", "", 1, 0, None, [], "0"]
NOT_MOMENTS: list[Any] = [
    "now",
    "today",
    "yesterday",
    "last tuesday",
    "",
    " ",
    "2024-13-01",
    "2024-02-30T10:00:00Z",
    "2024-01-01/2024-02-01",
    "P1D",
    "10:00",
    "01/02/2024",
    1_700_000_000,
    1.5,
    True,
    [],
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-05:00",  # after year 9999 in UTC
    "2026-01-31T09:00:00+24:00",  # an offset no datetime holds
    "2026-01-31T09:00:00-24:00",
    "2026-01-31T09:00:00.123456789Z",  # nanoseconds, which would be cut
]


def _id(value: Any) -> str:
    return repr(value)


@pytest.mark.parametrize("value", NOT_FLAGS, ids=_id)
def test_flags_are_true_or_false(sandbox: CallbellSandbox, value: Any) -> None:
    calls: dict[str, list[Callable[[], object]]] = {
        "include_field_types": [
            lambda: CallbellListContactsOperator(task_id="export", include_field_types=value),
            lambda: quick_hook().iter_contacts(include_field_types=value),
            lambda: quick_hook().get_contact(sandbox.contacts()[0]["uuid"], include_field_types=value),
        ],
        "incremental": [lambda: CallbellListContactsOperator(task_id="export", incremental=value)],
        "deferrable": [lambda: CallbellNewLeadsSensor(task_id="wait", deferrable=value)],
    }
    for argument, callers in calls.items():
        for call in callers:
            with pytest.raises(ValueError, match=f"{argument} must be True or False, got"):
                call()
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize("value", NOT_MOMENTS, ids=_id)
def test_moments_are_iso_8601_or_datetimes(value: Any) -> None:
    calls: list[tuple[str, Callable[[], object]]] = [
        ("created_after", lambda: CallbellListContactsOperator(task_id="export", created_after=value)),
        ("created_before", lambda: CallbellListContactsOperator(task_id="export", created_before=value)),
        ("since", lambda: CallbellNewLeadsSensor(task_id="wait", since=value)),
    ]
    for argument, call in calls:
        with pytest.raises(ValueError, match=f"{argument} must "):
            call()


@pytest.mark.parametrize("value", ["ANY", "some", "", None, 1, ["any"]], ids=_id)
def test_tags_match_is_any_or_all(value: Any) -> None:
    for call in (
        lambda: CallbellListContactsOperator(task_id="export", tags_match=value),
        lambda: CallbellNewLeadsSensor(task_id="wait", tags_match=value),
    ):
        with pytest.raises(ValueError, match="tags_match must be one of 'any', 'all', got"):
            call()


@pytest.mark.parametrize("value", ["JSONL", "xml", "", "csv ", 3], ids=_id)
def test_output_formats(value: Any) -> None:
    with pytest.raises(ValueError, match="output_format must be one of jsonl, json, csv, parquet"):
        CallbellListContactsOperator(task_id="export", output_path="/tmp/out.data", output_format=value)


@pytest.mark.parametrize(
    ("path", "given", "named"),
    [
        ("/data/x.csv", "parquet", "csv"),
        ("/data/x.jsonl", "json", "jsonl"),
        ("/data/x.json", "jsonl", "json"),
        ("s3://bucket/x.PARQUET", "csv", "parquet"),
    ],
)
def test_a_format_that_contradicts_the_suffix_is_refused(path: str, given: str, named: str) -> None:
    """Readers that go by the suffix would misread the file; an agreeing or unknown suffix is fine."""
    from airflow_provider_callbell.operators.contacts import CallbellUpsertContactsOperator
    from airflow_provider_callbell.operators.messages import CallbellSendMessageOperator

    makers: list[tuple[str, Callable[[str, str], object]]] = [
        ("output", lambda p, f: CallbellListContactsOperator(task_id="t", output_path=p, output_format=f)),
        ("input", lambda p, f: CallbellUpsertContactsOperator(task_id="t", input_path=p, input_format=f)),
        (
            "input",
            lambda p, f: CallbellSendMessageOperator(task_id="t", input_path=p, input_format=f, text="Hi"),
        ),
    ]
    for side, make in makers:
        with pytest.raises(
            ValueError, match=f"{side}_format '{given}' contradicts the suffix .* names {named}"
        ):
            make(path, given)
        assert make(path, named)
        assert make("/data/x.data", given)


@pytest.mark.parametrize("before", ["2026-01-01T00:00:00Z", "2025-12-31T23:00:00Z"])
def test_a_window_that_holds_no_moment_is_refused(before: str) -> None:
    """From created_after, included, to created_before, excluded: equal bounds hold nothing."""
    with pytest.raises(ValueError, match=r"created_after \(2026-01-01T00:00:00\+00:00\) must be before"):
        CallbellListContactsOperator(
            task_id="export", created_after="2026-01-01T00:00:00Z", created_before=before
        )


def test_moments_read_the_same_everywhere() -> None:
    operator = CallbellListContactsOperator(task_id="export", created_after="2026-03-01T10:00:00+01:00")
    sensor = CallbellNewLeadsSensor(task_id="wait", since="2026-03-01T09:00:00Z")

    after = operator._check()[1].created_after
    assert isinstance(after, datetime)
    assert after == sensor._since(cast(Any, {})) == datetime.fromisoformat("2026-03-01T09:00:00+00:00")


def test_no_xcom_limit_means_no_limit_in_the_operator_and_the_sensor(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory(contacts=1_050, seed=3)
    connect(monkeypatch, sandbox, max_requests_per_second=2000)
    many = [{"uuid": str(n)} for n in range(1_050)]

    exported = CallbellListContactsOperator(task_id="export", max_xcom_contacts=None).execute(cast(Any, {}))

    assert len(exported) == 1_050
    assert CallbellNewLeadsSensor(task_id="wait", max_xcom_contacts=None)._bounded(many) == many
    with pytest.raises(Exception, match="More than max_xcom_contacts=1000"):
        CallbellListContactsOperator(task_id="export", max_xcom_contacts=1_000)._collect(iter(many))
    with pytest.raises(Exception, match="More than max_xcom_contacts=1000"):
        CallbellNewLeadsSensor(task_id="wait", max_xcom_contacts=1_000)._bounded(many)


@pytest.mark.parametrize("deferrable", [False, True])
@pytest.mark.parametrize(
    "arguments",
    [
        {"poke_interval": 0},
        {"poke_interval": 2 * 86_400},
        {"poke_interval": math.inf},
        {"poke_interval": 1e308},
        {"poke_interval": True},
        {"poke_interval": False},
        {"poke_interval": "soon"},
        {"timeout": 1e12},
        {"timeout": math.inf},
        {"timeout": True},
        {"timeout": timedelta(0)},
        {"max_wait": math.inf},
        {"exponential_backoff": "no"},
        {"soft_fail": "yes"},
        {"soft_fail": 1},
    ],
    ids=repr,
)
def test_the_sensor_reads_its_airflow_arguments_as_every_other(
    arguments: dict[str, Any], deferrable: bool
) -> None:
    """Airflow itself takes True for 1 s, 'no' as true and overflows on inf, deep inside."""
    name = next(iter(arguments))
    with pytest.raises(
        ValueError, match=f"^CallbellNewLeadsSensor 'wait': {name} must be (a number from|True or)"
    ):
        CallbellNewLeadsSensor(task_id="wait", deferrable=deferrable, **arguments)


def test_the_sensor_takes_durations_as_numbers_text_or_timedeltas() -> None:
    sensor = CallbellNewLeadsSensor(task_id="wait", poke_interval=" 5 ", timeout=timedelta(hours=2))
    assert (sensor.poke_interval, sensor.timeout) == (5.0, 7200.0)


def test_a_sensor_or_trigger_that_could_never_succeed_is_refused() -> None:
    with pytest.raises(ValueError, match="min_leads=2000 is more than max_xcom_contacts=1000"):
        CallbellNewLeadsSensor(task_id="wait", min_leads=2000)
    with pytest.raises(ValueError, match="min_leads=10 is more than max_leads=3"):
        CallbellNewLeadsTrigger(since="2026-01-01T00:00:00Z", baseline=[], min_leads=10, max_leads=3)
    assert CallbellNewLeadsSensor(task_id="wait", min_leads=2000, max_xcom_contacts=None).min_leads == 2000


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"since": "now"}, "since must be"),
        ({"since": None}, "since must be"),
        ({"timeout_at": "garbage"}, "timeout_at must be"),
        ({"baseline": "abc"}, "baseline must be a list of contact uuids"),
        ({"baseline": None}, "baseline must be a list of contact uuids"),
        ({"baseline": [1, "a"]}, "baseline must be a list of contact uuids"),
        ({"baseline": ["../x"]}, "baseline must be a Callbell identifier"),
        ({"baseline": [" a1"]}, "baseline must hold contact uuids as Callbell writes them, each once"),
        ({"baseline": ["a1", "a1"]}, "baseline must hold contact uuids as Callbell writes them, each once"),
    ],
)
def test_the_trigger_checks_its_moments_and_baseline(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CallbellNewLeadsTrigger(**{"since": "2026-01-01T00:00:00Z", "baseline": [], **arguments})


def test_naive_moments_given_to_the_trigger_are_utc_and_tags_none_round_trips() -> None:
    trigger = CallbellNewLeadsTrigger(since="2026-01-01T10:00:00", baseline=["b", "a"], tags=None)
    path, kwargs = trigger.serialize()

    assert (kwargs["since"], kwargs["baseline"], kwargs["tags"]) == (
        "2026-01-01T10:00:00+00:00",
        ["a", "b"],
        None,
    )
    assert CallbellNewLeadsTrigger(**kwargs).serialize() == (path, kwargs)


@pytest.mark.parametrize(
    "arguments", [{"poke_interval": True}, {"soft_fail": "no"}, {"timeout": math.inf}], ids=repr
)
def test_the_sensor_reads_default_args_by_the_same_rules(arguments: dict[str, Any]) -> None:
    from airflow.providers.common.compat.sdk import DAG

    refusal = f"'wait': {next(iter(arguments))} must be"
    with pytest.raises(ValueError, match=refusal):
        CallbellNewLeadsSensor(task_id="wait", default_args=arguments)
    with DAG("defaults", schedule=None, default_args=arguments), pytest.raises(ValueError, match=refusal):
        CallbellNewLeadsSensor(task_id="wait")
    with DAG("fine", schedule=None, default_args={"poke_interval": "30"}):
        assert CallbellNewLeadsSensor(task_id="wait").poke_interval == 30.0


@pytest.mark.parametrize("value", ["xlsx", "JSONL", ""], ids=_id)
def test_a_static_format_is_checked_though_the_path_is_a_template(value: Any) -> None:
    from airflow_provider_callbell.operators.contacts import CallbellUpsertContactsOperator
    from airflow_provider_callbell.operators.messages import CallbellSendMessageOperator

    path = "/data/{{ run_id }}.jsonl"
    makers: list[tuple[str, Callable[[], object]]] = [
        ("output", lambda: CallbellListContactsOperator(task_id="t", output_path=path, output_format=value)),
        ("input", lambda: CallbellUpsertContactsOperator(task_id="t", input_path=path, input_format=value)),
        (
            "input",
            lambda: CallbellSendMessageOperator(task_id="t", input_path=path, input_format=value, text="Hi"),
        ),
    ]
    for side, make in makers:
        with pytest.raises(
            ValueError, match=f"{side}_format must be one of jsonl, json, csv, parquet or None"
        ):
            make()
    assert CallbellListContactsOperator(task_id="t", output_path=path, output_format="{{ params.f }}")


@pytest.mark.parametrize(
    "given", [{"mode": "Reschedule"}, {"mode": ""}, {"default_args": {"mode": "Poke"}}], ids=_id
)
def test_a_sensor_mode_is_poke_or_reschedule_named_as_our_arguments_are(given: dict[str, Any]) -> None:
    with pytest.raises(
        ValueError, match=r"^CallbellNewLeadsSensor 'wait': mode must be one of 'poke', 'reschedule'"
    ):
        CallbellNewLeadsSensor(task_id="wait", **given)


def test_reschedule_with_deferrable_says_deferrable_wins(logs: Callable[[], str]) -> None:
    sensor = CallbellNewLeadsSensor(task_id="wait", mode="reschedule", deferrable=True)

    assert sensor.deferrable
    assert "deferrable=True waits in the triggerer, so mode='reschedule' has no effect" in logs()


def test_a_fraction_is_a_number_wherever_numbers_are_written(sandbox: CallbellSandbox) -> None:
    """The README's numbers include Fractions: a custom field holds one written exactly, or refuses it."""
    from fractions import Fraction

    contact = sandbox.contacts()[0]

    written = quick_hook().update_contact(contact["uuid"], custom_fields={"score": Fraction(1, 4)})

    assert written["customFields"]["score"] == "0.25"
    with pytest.raises(ValueError, match=r"custom_fields\['score'\] holds a number with no exact plain form"):
        quick_hook().update_contact(contact["uuid"], custom_fields={"score": Fraction(1, 3)})


def test_max_wait_needs_exponential_backoff_which_it_bounds() -> None:
    """Airflow ignores max_wait without exponential_backoff: a value with no effect is refused."""
    from airflow.providers.common.compat.sdk import DAG

    refusal = "'wait': max_wait needs exponential_backoff=True"
    with pytest.raises(ValueError, match=refusal):
        CallbellNewLeadsSensor(task_id="wait", max_wait=10)
    with (
        DAG("defaults", schedule=None, default_args={"max_wait": 5}),
        pytest.raises(ValueError, match=refusal),
    ):
        CallbellNewLeadsSensor(task_id="wait")
    assert CallbellNewLeadsSensor(task_id="wait", max_wait=10, exponential_backoff=True).max_wait


@pytest.mark.parametrize("field", ["phonenumber", "CreatedAt", "UUID", "customfields"])
def test_a_field_spelt_as_a_contact_key_in_another_case_is_refused(field: str) -> None:
    """It would be a column of nulls: contacts have phoneNumber, not phonenumber."""
    with pytest.raises(ValueError, match=f"fields names '{field}', which no contact has: .*did you mean"):
        CallbellListContactsOperator(task_id="export", fields=["uuid", field] if field != "UUID" else [field])
    assert CallbellListContactsOperator(task_id="export", fields=["uuid", "phoneNumber", "my_custom"])
