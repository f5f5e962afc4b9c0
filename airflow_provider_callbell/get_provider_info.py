"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_callbell import __version__

INTEGRATION = "Callbell"

_CONNECTION_FIELDS: dict[str, Any] = {
    "timeout": {
        "label": "Read timeout (seconds)",
        "description": "How long to wait for Callbell's answer to one request.",
        "schema": {"type": ["number", "null"], "minimum": 0, "default": 30},
    },
    "connect_timeout": {
        "label": "Connect timeout (seconds)",
        "description": "How long to wait for the connection to Callbell.",
        "schema": {"type": ["number", "null"], "minimum": 0, "default": 10},
    },
    "max_retries": {
        "label": "Retries of a failed request",
        "description": "Retries after a 429, a 5xx, a timeout or a dropped connection.",
        "schema": {"type": ["integer", "null"], "minimum": 0, "default": 5},
    },
    "retry_backoff": {
        "label": "First wait before a retry (seconds)",
        "description": "Doubled at each retry; a 429's Retry-After takes precedence.",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": 0.5},
    },
    "max_requests_per_second": {
        "label": "Requests per second at most",
        "description": "Client-side rate limit of each hook; Callbell allows 300 per account.",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": 200},
    },
}


def _modules(*modules: str) -> list[dict[str, Any]]:
    paths = [f"airflow_provider_callbell.{module}" for module in modules]
    return [{"integration-name": INTEGRATION, "python-modules": paths}]


def get_provider_info() -> dict[str, Any]:
    """The provider's description, hooks and ``callbell`` connection type."""
    return {
        "package-name": "airflow-provider-callbell",
        "name": "Callbell",
        "description": "`Callbell <https://www.callbell.eu/>`__: contacts of the shared "
        "customer-messaging inbox (WhatsApp, Instagram, Messenger, Telegram, web chat).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://callbellsupport.zendesk.com/hc/en-us/articles/360018491598",
                "tags": ["service"],
            }
        ],
        "operators": _modules("operators.contacts"),
        "sensors": _modules("sensors.contacts"),
        "hooks": _modules("hooks.callbell", "hooks.callbell_async"),
        "triggers": _modules("triggers.contacts"),
        "connection-types": [
            {
                "connection-type": "callbell",
                "hook-class-name": "airflow_provider_callbell.hooks.callbell.CallbellHook",
                "hook-name": "Callbell",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "Base URL", "password": "API token"},
                    "placeholders": {
                        "host": "https://api.callbell.eu/v1",
                        "password": "API token from Callbell: Settings > Integrations > API",
                    },
                },
                "conn-fields": _CONNECTION_FIELDS,
            }
        ],
    }
