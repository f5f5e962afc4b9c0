"""The ``callbell`` connection: its names, and the client settings read from it.

Shared by the synchronous and asynchronous hooks; light enough to import at DAG parse time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell import __version__

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection

    from airflow_provider_callbell.api.retry import RetryPolicy

DEFAULT_CONN_ID = "callbell_default"
CONN_TYPE = "callbell"
DEFAULT_BASE_URL = "https://api.callbell.eu/v1"
USER_AGENT = f"airflow-provider-callbell/{__version__}"


#: The connection form: fields Callbell does not use are hidden, the others say what they hold.
FORM: dict[str, Any] = {
    "hidden_fields": ["schema", "port", "login"],
    "relabeling": {"host": "Base URL", "password": "API token"},
    "placeholders": {
        "host": DEFAULT_BASE_URL,
        "password": "API token from Callbell: Settings > Integrations > API",
    },
}


@dataclass(frozen=True)
class Setting:
    """A client setting, read from the connection's extra of the same name."""

    label: str
    description: str
    default: float
    whole: bool = False


SETTINGS = {
    "timeout": Setting(
        "Read timeout (seconds)", "How long to wait for Callbell's answer to one request.", 30.0
    ),
    "connect_timeout": Setting(
        "Connect timeout (seconds)", "How long to wait for the connection to Callbell.", 10.0
    ),
    "max_retries": Setting(
        "Retries of a failed request",
        "Retries after a 429, a 5xx, a timeout or a dropped connection.",
        5,
        whole=True,
    ),
    "retry_backoff": Setting(
        "First wait before a retry (seconds)",
        "Doubled at each retry; a 429's Retry-After takes precedence.",
        0.5,
    ),
    "max_requests_per_second": Setting(
        "Requests per second at most",
        "Client-side rate limit of each hook; Callbell allows 300 per account.",
        200.0,
    ),
}


def checked_setting(name: str, value: Any) -> float:
    """A setting's value as a number, or ``ValueError`` naming the setting and what it accepts."""
    whole = SETTINGS[name].whole
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    valid = number >= 0 and number.is_integer() if whole else number > 0
    if isinstance(value, bool) or not valid:
        expected = "a whole number >= 0" if whole else "a number > 0"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return number


def base_url_of(conn: Connection) -> str:
    """The API base URL a connection points at.

    ``host`` holding a whole URL (``http://127.0.0.1:8765/v1``) is used as it is; a bare host
    name becomes ``https://host[:port]/<schema or v1>``; no host means the public API.
    """
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        return DEFAULT_BASE_URL
    if "://" in host:
        return host
    port = f":{conn.port}" if conn.port else ""
    path = (conn.schema or "v1").strip("/")
    return f"https://{host}{port}/{path}"


@dataclass(frozen=True)
class ClientConfig:
    """What a Callbell client needs from its connection; the token never shows in a repr."""

    base_url: str
    token: str = field(repr=False)
    timeout: float
    connect_timeout: float
    max_retries: int
    retry_backoff: float
    max_requests_per_second: float

    @classmethod
    def of(
        cls, conn: Connection, extras: Mapping[str, Any], overrides: Mapping[str, Any], conn_id: str
    ) -> ClientConfig:
        """Settings from ``overrides`` (hook arguments), else the connection's extras, else defaults."""
        from airflow_provider_callbell.exceptions import CallbellAuthError

        token = (conn.password or "").strip()
        if not token:
            raise CallbellAuthError(
                f"The Callbell connection {conn_id!r} has no API token: "
                "put the token in the connection's password field."
            )
        values = {}
        for name, setting in SETTINGS.items():
            value = overrides.get(name)
            if value is None and extras.get(name) not in (None, ""):
                value = extras[name]
            values[name] = setting.default if value is None else checked_setting(name, value)
        return cls(
            base_url=base_url_of(conn),
            token=token,
            timeout=values["timeout"],
            connect_timeout=values["connect_timeout"],
            max_retries=int(values["max_retries"]),
            retry_backoff=values["retry_backoff"],
            max_requests_per_second=values["max_requests_per_second"],
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """How transient failures are retried under these settings."""
        from airflow_provider_callbell.api.retry import RetryPolicy

        return RetryPolicy(max_retries=self.max_retries, backoff=self.retry_backoff)

    @property
    def headers(self) -> dict[str, str]:
        """The headers of every request."""
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
