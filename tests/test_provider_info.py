"""The provider registers with Airflow's providers manager on both Airflow lines."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import warnings

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_provider_callbell.get_provider_info import get_provider_info
from airflow_provider_callbell.hooks.callbell import CallbellHook


def test_provider_info_names_the_distribution_and_the_connection() -> None:
    info = get_provider_info()
    connection = info["connection-types"][0]

    assert info["package-name"] == importlib.metadata.metadata("airflow-provider-callbell")["Name"]
    assert info["versions"] == [importlib.metadata.version("airflow-provider-callbell")]
    assert connection["connection-type"] == CallbellHook.conn_type == "callbell"
    assert connection["hook-name"] == CallbellHook.hook_name == "Callbell"
    assert connection["ui-field-behaviour"]["relabeling"] == {"host": "Base URL", "password": "API token"}


def test_hook_form_matches_the_declarative_form() -> None:
    declared = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    legacy = CallbellHook.get_ui_field_behaviour()

    assert legacy == {key.replace("-", "_"): value for key, value in declared.items()}


def test_entry_point_points_at_get_provider_info() -> None:
    points = importlib.metadata.entry_points(group="apache_airflow_provider")

    assert any(point.value.startswith("airflow_provider_callbell.get_provider_info") for point in points)


def test_airflow_providers_list_shows_the_package() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "plain"],
        capture_output=True,
        text=True,
        check=True,
    )

    assert "airflow-provider-callbell" in listed.stdout


def test_connection_form_on_this_airflow() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()  # type: ignore[no-untyped-call]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        widgets = manager.connection_form_widgets
        behaviour = manager.field_behaviours["callbell"]

    assert not [warning for warning in caught if "CallbellHook" in str(warning.message)]

    assert {
        f"extra__callbell__{name}" for name in ("timeout", "max_retries", "max_requests_per_second")
    } <= set(widgets)
    assert behaviour["hidden_fields"] == ["schema", "port", "login"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API token"}


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="Airflow 2 builds the form from wtforms fields")
def test_airflow_2_form_fields_come_from_the_hook() -> None:
    widgets = CallbellHook.get_connection_form_widgets()

    assert set(widgets) == {
        "timeout",
        "connect_timeout",
        "max_retries",
        "retry_backoff",
        "max_requests_per_second",
        "rate_limit_redis_conn_id",
    }


def test_every_listed_module_and_the_notifier_import() -> None:
    import importlib

    info = get_provider_info()
    modules = [
        module
        for kind in ("operators", "sensors", "hooks", "triggers")
        for entry in info[kind]
        for module in entry["python-modules"]
    ]
    for module in modules:
        importlib.import_module(module)
    (notifier,) = info["notifications"]
    module, _, name = notifier.rpartition(".")
    assert getattr(importlib.import_module(module), name).__name__ == "CallbellNotifier"


def test_the_providers_manager_lists_the_notifier() -> None:
    from airflow.providers_manager import ProvidersManager

    listed = ProvidersManager().notification  # type: ignore[no-untyped-call]
    names = [getattr(info, "notification_class_name", info) for info in listed]  # plain names on 3.3

    assert "airflow_provider_callbell.notifications.callbell.CallbellNotifier" in names
