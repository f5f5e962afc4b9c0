"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_callbell import __version__
from airflow_provider_callbell.connection import FORM, REDIS_CONN_EXTRA, REDIS_CONN_FIELD, SETTINGS

INTEGRATION = "Callbell"


def _connection_fields() -> dict[str, Any]:
    fields = {}
    for name, setting in SETTINGS.items():
        schema = {
            "type": ["integer" if setting.whole else "number", "null"],
            "minimum": setting.minimum,
            "maximum": setting.maximum,
            "default": setting.default,
        }
        fields[name] = {"label": setting.label, "description": setting.description, "schema": schema}
    fields[REDIS_CONN_EXTRA] = {**REDIS_CONN_FIELD, "schema": {"type": ["string", "null"]}}
    return fields


def _modules(*modules: str) -> list[dict[str, Any]]:
    paths = [f"airflow_provider_callbell.{module}" for module in modules]
    return [{"integration-name": INTEGRATION, "python-modules": paths}]


def get_provider_info() -> dict[str, Any]:
    """The provider's description, hooks and ``callbell`` connection type."""
    return {
        "package-name": "airflow-provider-callbell",
        "name": "Callbell",
        "description": "`Callbell <https://www.callbell.eu/>`__, the shared customer-messaging "
        "inbox (WhatsApp, Instagram, Messenger, Telegram, web chat): contacts read and written "
        "back, messages sent, notifications from callbacks.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://callbellsupport.zendesk.com/hc/en-us/articles/360018491598",
                "tags": ["service"],
            }
        ],
        "operators": _modules("operators.contacts", "operators.messages"),
        "sensors": _modules("sensors.contacts"),
        "hooks": _modules("hooks.callbell", "hooks.callbell_async"),
        "triggers": _modules("triggers.contacts", "triggers.messages"),
        "notifications": ["airflow_provider_callbell.notifications.callbell.CallbellNotifier"],
        "connection-types": [
            {
                "connection-type": "callbell",
                "hook-class-name": "airflow_provider_callbell.hooks.callbell.CallbellHook",
                "hook-name": "Callbell",
                "ui-field-behaviour": {key.replace("_", "-"): value for key, value in FORM.items()},
                "conn-fields": _connection_fields(),
            }
        ],
    }
