"""SandboxSettings validation, and changing settings on a running sandbox."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_callbell.sandbox import DEFAULT_TOKEN, SandboxSettings
from airflow_provider_callbell.sandbox.settings import EventMix
from tests.sandbox.client import ApiClient

if TYPE_CHECKING:
    from tests.sandbox.conftest import MakeSandbox


def test_defaults() -> None:
    settings = SandboxSettings()

    assert (settings.contacts, settings.token, settings.page_size) == (100, DEFAULT_TOKEN, 20)
    assert (settings.page_cap, settings.pagination, settings.rate_limit) == (500, "cursor", 300)
    assert settings.retry_after_format == "seconds"
    assert settings.max_faults_per_request == 2
    assert (settings.cursor_semantics, settings.events_per_second) == ("keyset", 0)
    assert dict(settings.event_mix) == {
        "message": 0.7,
        "create": 0.1,
        "delete": 0.05,
        "tag_add": 0.1,
        "tag_remove": 0.05,
    }
    assert (settings.tag_message_rate, settings.event_tags, settings.event_seed) == (0.5, ("lead",), None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("contacts", -1),
        ("contacts", 2.5),
        ("seed", "1"),
        ("token", ""),
        ("page_size", 0),
        ("page_size", True),
        ("page_cap", 0),
        ("pagination", "offset"),
        ("tags_semantics", "some"),
        ("rate_limit", 0),
        ("rate_limit", float("inf")),
        ("retry_after_format", "minutes"),
        ("error_rate", 1.5),
        ("throttle_rate", -0.1),
        ("drop_rate", float("nan")),
        ("truncate_rate", "0.1"),
        ("latency", -1),
        ("latency_jitter", -0.5),
        ("max_faults_per_request", -1),
        ("events_per_second", -1),
        ("events_per_second", float("inf")),
        ("event_mix", "message=1"),
        ("event_mix", {"message": -0.5}),
        ("event_mix", {"message": float("nan")}),
        ("event_mix", {"message": "1"}),
        ("tag_message_rate", 1.5),
        ("tag_message_rate", -0.1),
        ("event_tags", "lead"),
        ("event_tags", ["lead"]),
        ("event_tags", ("lead", "")),
        ("event_tags", ("a,b",)),
        ("event_tags", (" lead",)),
        ("event_tags", ("Lead", "lead")),
        ("event_tags", (1,)),
        ("event_seed", 1.5),
    ],
)
def test_invalid_values_name_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        SandboxSettings(**{field: value})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cursor_semantics": "offset"}, "cursor_semantics must be one of keyset, snapshot, got 'offset'"),
        (
            {"event_mix": {"message": 1, "reply": 1, "Delete": 1}},
            "event_mix kinds must be among message, create, delete, tag_add, tag_remove, "
            "got 'Delete', 'reply'",
        ),
        ({"event_mix": {"message": 0, "create": 0}}, "event_mix needs at least one positive weight"),
        ({"event_mix": {}}, "event_mix needs at least one positive weight"),
        ({"event_mix": {"delete": -1}}, "event_mix weight of delete must be >= 0, got -1"),
        ({"event_tags": ()}, "event_tags must not be empty while tag_add or tag_remove have a weight"),
    ],
)
def test_event_settings_errors_say_what_is_allowed(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        SandboxSettings(**changes)


def test_event_mix_is_a_complete_immutable_mapping() -> None:
    settings = SandboxSettings(event_mix={"create": 2, "message": 1}, event_tags=("vip",))

    assert list(settings.event_mix.items()) == [
        ("message", 1.0),
        ("create", 2.0),
        ("delete", 0.0),
        ("tag_add", 0.0),
        ("tag_remove", 0.0),
    ]
    assert isinstance(settings.event_mix, EventMix)
    assert settings == SandboxSettings(
        event_mix={"message": 1, "create": 2, "delete": 0}, event_tags=("vip",)
    )
    assert hash(settings) == hash(settings.replace())
    with pytest.raises(TypeError):
        settings.event_mix["message"] = 3  # type: ignore[index]
    assert SandboxSettings(event_mix={"message": 1}, event_tags=()).event_tags == ()


def test_fault_rates_are_disjoint_probabilities() -> None:
    SandboxSettings(error_rate=0.5, throttle_rate=0.5)

    with pytest.raises(ValueError, match="must not exceed 1"):
        SandboxSettings(error_rate=0.5, throttle_rate=0.3, drop_rate=0.3)


def test_optional_limits_accept_none() -> None:
    settings = SandboxSettings(page_cap=None, rate_limit=None)

    assert (settings.page_cap, settings.rate_limit) == (None, None)


def test_replace_validates_and_rejects_unknown_names() -> None:
    settings = SandboxSettings()

    assert settings.replace(page_size=5).page_size == 5
    assert settings.page_size == 20
    with pytest.raises(ValueError, match="page_size"):
        settings.replace(page_size=0)
    with pytest.raises(ValueError, match=r"unknown sandbox setting.*page_sise"):
        settings.replace(page_sise=5)


def test_configure_takes_effect_on_the_next_request(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=30, page_size=10)
    client = ApiClient(sandbox)
    assert len(client.get("/contacts").json()["contacts"]) == 10

    sandbox.configure(page_size=4, pagination="pages")

    assert sandbox.settings.page_size == 4
    assert client.get("/contacts").json() == {"contacts": sandbox.contacts()[:4]}


def test_configure_token_rotates_credentials(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=3)
    old = ApiClient(sandbox)

    sandbox.configure(token="rotated-token")

    assert old.get("/auth/me").status_code == 401
    assert ApiClient(sandbox).get("/auth/me").status_code == 200


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"error_rate": 2}, "error_rate"),
        ({"contacts": 10}, "contacts cannot change"),
        ({"seed": 3}, "seed cannot change"),
        ({"event_mix": {"reply": 1}}, "event_mix kinds"),
        ({"cursor_semantics": "snapshots"}, "cursor_semantics"),
        ({"colour": "red"}, "unknown sandbox setting"),
    ],
)
def test_configure_rejects_bad_changes(
    make_sandbox: MakeSandbox, changes: dict[str, Any], message: str
) -> None:
    sandbox = make_sandbox(contacts=3)

    with pytest.raises(ValueError, match=message):
        sandbox.configure(**changes)
    assert sandbox.settings == SandboxSettings(contacts=3, rate_limit=None)


def test_constructor_keywords_override_a_settings_object(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(settings=SandboxSettings(contacts=7, page_size=3), page_size=5)

    assert (sandbox.settings.contacts, sandbox.settings.page_size) == (7, 5)
    assert len(sandbox.contacts()) == 7
