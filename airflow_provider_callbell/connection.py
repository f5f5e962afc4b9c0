"""The ``callbell`` connection: its names, and the client settings read from it.

Shared by the synchronous and asynchronous hooks; light enough to import at DAG parse time.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from airflow_provider_callbell import __version__
from airflow_provider_callbell.api.secrets import conceal
from airflow_provider_callbell.arguments import conn_id as conn_id_rule
from airflow_provider_callbell.arguments import (
    host_problem,
    ip_address_of,
    is_public_host,
    number_between,
    seconds,
    unique_names,
    whole_number,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection

    from airflow_provider_callbell.api.retry import RetryPolicy

DEFAULT_CONN_ID = "callbell_default"
CONN_TYPE = "callbell"
DEFAULT_BASE_URL = "https://api.callbell.eu/v1"
USER_AGENT = f"airflow-provider-callbell/{__version__}"
#: Requests a second Callbell allows per account.
CALLBELL_RATE_LIMIT = 300

logger = logging.getLogger(__name__)

#: Other lengths are paste errors; Airflow's log masking also skips secrets under 5 characters.
MIN_TOKEN_LENGTH, MAX_TOKEN_LENGTH = 8, 1024
_PATH = re.compile(r"[A-Za-z0-9._~/-]*")


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
    minimum: float
    maximum: float
    whole: bool = False
    #: What a fraction above 1 would mean, when the setting only has whole values there.
    whole_above_one: str = ""
    #: A duration: a ``timedelta`` is taken too, as its seconds.
    duration: bool = False

    def check(self, name: str, value: Any) -> float:
        """The value as a number, or ``ValueError`` naming the setting and what it accepts."""
        if self.whole:
            return whole_number(value, name, minimum=int(self.minimum), maximum=int(self.maximum))
        read = seconds if self.duration else number_between
        number = read(value, name, self.minimum, self.maximum)
        if self.whole_above_one and number > 1 and not number.is_integer():
            raise ValueError(
                f"{name} must be whole from 1 to {self.maximum:g}, or a fraction below 1, got {number:g}: "
                f"{self.whole_above_one}"
            )
        return number


SETTINGS = {
    "timeout": Setting(
        "Timeout of a request (seconds)",
        "How long one request may take, from sending it to the last byte of Callbell's answer.",
        30.0,
        minimum=0.001,
        maximum=3600,
        duration=True,
    ),
    "connect_timeout": Setting(
        "Connect timeout (seconds)",
        "How long to wait for the connection to Callbell.",
        10.0,
        minimum=0.001,
        maximum=600,
        duration=True,
    ),
    "max_retries": Setting(
        "Retries of a failed request",
        "Retries after a 429, a 5xx, a timeout or a dropped connection.",
        5,
        minimum=0,
        maximum=100,
        whole=True,
    ),
    "retry_backoff": Setting(
        "First wait before a retry (seconds)",
        "Doubled at each retry, up to 30 s; a 429's Retry-After takes precedence.",
        0.5,
        minimum=0.001,
        maximum=30,
        duration=True,
    ),
    "max_requests_per_second": Setting(
        "Requests per second at most",
        "Client-side rate limit of each hook, or of the whole account with a Redis connection below; "
        "Callbell allows 300 per account.",
        200.0,
        minimum=0.01,
        maximum=10_000,
        whole_above_one="at most that many requests start in any one second (0.5: one every 2 s)",
    ),
}


#: The extra naming an Airflow ``redis`` connection: the account's request budget is kept there.
REDIS_CONN_EXTRA = "rate_limit_redis_conn_id"
REDIS_CONN_FIELD = {
    "label": "Redis connection of the account's request budget",
    "description": (
        "An Airflow redis connection: every task and worker using this Callbell account then shares "
        "max_requests_per_second, kept in that Redis. Empty: each hook has its own limit."
    ),
}
#: What the extra may hold.
EXTRAS = (*SETTINGS, REDIS_CONN_EXTRA)


def checked_settings(settings: Mapping[str, Any]) -> dict[str, float]:
    """Hook arguments overriding the connection's settings, checked; ``None`` ones left out."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(f"unknown Callbell settings {unknown}: the settings are {', '.join(SETTINGS)}")
    return {name: SETTINGS[name].check(name, value) for name, value in settings.items() if value is not None}


def extras_of(conn: Connection, conn_id: str) -> dict[str, Any]:
    """The connection's extra as a JSON object; misspelt names are warned about, never ignored silently."""
    from airflow_provider_callbell.exceptions import CallbellConfigurationError

    try:
        extras = (
            json.loads(conn.extra, object_pairs_hook=unique_names)
            if conn.extra and conn.extra.strip()
            else {}
        )
    except ValueError:
        extras = None
    if not isinstance(extras, dict):
        raise CallbellConfigurationError(
            f"The extra of the Callbell connection {conn_id!r} must be a JSON object naming each "
            f'setting once, such as {{"timeout": 30}}; its settings are {", ".join(EXTRAS)}'
        )
    unknown = sorted(set(extras) - set(EXTRAS))
    if unknown:
        logger.warning(
            "The Callbell connection %r has extras Callbell does not use, ignored: %s; its settings are %s",
            conn_id,
            ", ".join(unknown),
            ", ".join(EXTRAS),
        )
    return extras


def base_url_of(conn: Connection, conn_id: str) -> str:
    """The API base URL a connection points at, checked.

    ``host`` holding a whole URL (``http://127.0.0.1:8765/v1``) is used as it is; a bare host
    name becomes ``https://host[:port]/<schema or v1>``; no host means the public API.
    """
    host = (conn.host or "").strip()
    schema = (conn.schema or "").strip()
    if not host:
        unset = [name for name, value in (("port", conn.port), ("schema", schema)) if value not in (None, "")]
        if unset:
            from airflow_provider_callbell.exceptions import CallbellConfigurationError

            raise CallbellConfigurationError(
                f"The Callbell connection {conn_id!r} has no host, so its {' and '.join(unset)} would be "
                f"ignored for {DEFAULT_BASE_URL}: give the host too, or leave them empty"
            )
        return DEFAULT_BASE_URL
    if "://" in host:
        url = host if host.endswith("://") else host.rstrip("/")
    else:
        port = "" if conn.port is None else f":{conn.port}"
        url = f"https://{host.rstrip('/')}{port}/{(schema or 'v1').strip('/')}"
    unused = [name for name, value in (("port", conn.port), ("schema", schema)) if value not in (None, "")]
    if "://" in host and unused:
        problem: str | None = (
            f"it is a whole URL, so the connection's {' and '.join(unused)} would be ignored: put "
            "them into the URL and leave those fields empty"
        )
    elif schema and not schema.strip("/"):
        problem = f"its schema {schema!r} names no path: leave it empty for v1, or give the API's path"
    elif "://" not in host and ("/" in host.rstrip("/") or "@" in host):
        problem = "it is neither a host name nor a whole URL"
    elif "://" not in host and host.count(":") > 1 and not host.startswith("["):
        problem = "an IPv6 address goes in brackets, as in [2001:db8::1]"
    elif "://" not in host and ":" in host and conn.port is not None:
        problem = "it names a port, and so does the connection's port field: give it once"
    else:
        problem = _url_problem(url) or _destination_problem(url)
    if problem:
        from airflow_provider_callbell.exceptions import CallbellConfigurationError

        raise CallbellConfigurationError(
            f"The host of the Callbell connection {conn_id!r} must be an http(s) URL such as "
            f"{DEFAULT_BASE_URL} or a host name: {problem}"
        )
    return url


def _url_problem(url: str) -> str | None:
    if "?" in url or "#" in url or any(ord(c) <= 32 or ord(c) >= 127 for c in url):
        return (
            "it holds a query, a fragment, spaces, control characters or non-ASCII ones "
            "(give a host in its punycode form)"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - an invalid port raises here
    except ValueError as error:
        return str(error)
    if parts.scheme.lower() not in ("http", "https"):
        return f"the scheme is {parts.scheme!r}"
    if "@" in parts.netloc:
        return "it holds a user name or password; put the API token in the password field"
    if not parts.hostname:
        return "it names no host"
    return _parts_problem(parts)


def _parts_problem(parts: SplitResult) -> str | None:
    problems = {
        "it holds a query or a fragment": bool(parts.query or parts.fragment),
        "its path holds other characters than letters, digits and / . _ ~ -": not _PATH.fullmatch(parts.path),
        "its path holds . or .. segments": bool({".", ".."} & set(parts.path.split("/"))),
        "its path holds an empty segment (//)": "" in parts.path.split("/")[1:],
    }
    return host_problem(parts) or next((problem for problem, found in problems.items() if found), None)


def _destination_problem(url: str) -> str | None:
    """What is wrong with sending the token to this valid URL: in clear text to Callbell or to a
    public address, or to a path of Callbell's host where no API answers."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme.lower() == "http" and (
        _is_callbell(url) or (ip_address_of(host) is not None and is_public_host(host))
    ):
        return (
            f"http:// would send the API token in clear text to {host!r}, a public host: use https:// "
            "(plain http is for this machine and private networks, such as the sandbox)"
        )
    if _is_callbell(url) and parts.path != urlsplit(DEFAULT_BASE_URL).path:
        path = parts.path or "/"
        return f"Callbell's API is at {DEFAULT_BASE_URL}, where the path {path!r} answers nothing"
    return None


def _is_callbell(base_url: str) -> bool:
    """Whether the URL points at Callbell's API, however its host is spelt (``API.callbell.eu.``)."""
    return (urlsplit(base_url).hostname or "").rstrip(".") == urlsplit(DEFAULT_BASE_URL).hostname


_QUOTES = ("'", '"', "`")


def token_problem(token: str) -> str | None:
    """What makes ``token`` a paste error rather than an API token, never quoting it; ``None`` if
    it is usable. The hooks and the sandbox hold tokens to these rules alike."""
    if not all(33 <= ord(char) < 127 for char in token):
        return (
            "holds a space, a line break or a character outside printable ASCII: paste it again, "
            "exactly as Callbell shows it."
        )
    if token[:1] in _QUOTES or token[-1:] in _QUOTES:
        return "begins or ends with a quote: paste it without quotes, exactly as Callbell shows it."
    if not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH:
        return (
            f"has {len(token)} characters, where {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} are accepted "
            "(fewer are too few for Airflow to mask in logs): paste the whole token, and only it."
        )
    return None


def token_of(conn: Connection, conn_id: str) -> str:
    """The API token, checked without ever showing it: a pasted line break would leak it."""
    from airflow_provider_callbell.exceptions import CallbellAuthError

    token = (conn.password or "").strip()
    if not token:
        raise CallbellAuthError(
            f"The Callbell connection {conn_id!r} has no API token: "
            "put the token in the connection's password field."
        )
    problem = token_problem(token)
    if problem:
        raise CallbellAuthError(f"The API token of the Callbell connection {conn_id!r} {problem}")
    return token


def _setting_of(extras: Mapping[str, Any], name: str, conn_id: str) -> float:
    from airflow_provider_callbell.exceptions import CallbellConfigurationError

    setting, value = SETTINGS[name], extras.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):  # an empty form field: unset
        return setting.default
    try:
        return setting.check(name, value)
    except ValueError as error:
        message = f"The Callbell connection {conn_id!r} has a wrong extra: {error}"
        raise CallbellConfigurationError(message) from None


def redis_conn_id_of(extras: Mapping[str, Any], conn_id: str) -> str | None:
    """The Airflow connection of the account's request budget, or ``None`` for a limit per hook."""
    value = extras.get(REDIS_CONN_EXTRA)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return conn_id_rule(value, REDIS_CONN_EXTRA)
    except ValueError as error:
        from airflow_provider_callbell.exceptions import CallbellConfigurationError

        raise CallbellConfigurationError(
            f"The Callbell connection {conn_id!r} has a wrong extra: {error}"
        ) from None


def _decoded(extra: str | None) -> str:
    """The text of the extra's JSON names and values, as decoding gives them: ``\\u002B`` is ``+``."""
    try:
        document = json.loads(extra or "")
    except (ValueError, RecursionError):
        return ""
    texts: list[str] = []
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend([*item.keys(), *item.values()])
        elif isinstance(item, list):
            stack.extend(item)
        else:
            texts.append(str(item))
    return " ".join(texts)


def _check_token_is_in_place(conn: Connection, token: str, conn_id: str) -> None:
    """Fail, never quoting it, if the token (or a piece of it) is in a field other than the password."""
    from airflow_provider_callbell.exceptions import CallbellConfigurationError

    fields = {
        "host": f"{conn.host or ''} {conn.schema or ''}",
        "extra": f"{conn.extra or ''} {_decoded(conn.extra)}",
        "login": conn.login,
        "description": getattr(conn, "description", None),
    }
    strayed = [name for name, text in fields.items() if text and conceal(text, token) != text]
    if "host" in strayed:
        raise CallbellConfigurationError(
            f"The host of the Callbell connection {conn_id!r} must be an http(s) URL such as "
            f"{DEFAULT_BASE_URL} or a host name: it holds its API token, whose place is the password"
        )
    if strayed:
        raise CallbellConfigurationError(
            f"The {strayed[0]} of the Callbell connection {conn_id!r} holds its API token (or a piece "
            "of it), whose place is the password: it is not shown here"
        )


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
    rate_limit_redis_conn_id: str | None = None

    @classmethod
    def of(cls, conn: Connection, overrides: Mapping[str, float], conn_id: str) -> ClientConfig:
        """Settings from ``overrides`` (checked hook arguments), else the extras, else defaults."""
        if conn.conn_type not in (None, "", CONN_TYPE):
            from airflow_provider_callbell.exceptions import CallbellConfigurationError

            # its password, another service's secret, would go to Callbell as the API token
            raise CallbellConfigurationError(
                f"The connection {conn_id!r} is a {conn.conn_type!r} connection, not a {CONN_TYPE!r} one: "
                "give the id of a Callbell connection"
            )
        token = token_of(conn, conn_id)
        # Before anything else is checked: a message about a field would quote it.
        _check_token_is_in_place(conn, token, conn_id)
        if conn.login:
            logger.warning(
                "The login of the Callbell connection %r is not used: Callbell knows the account by "
                "the API token in the password",
                conn_id,
            )
        extras = extras_of(conn, conn_id)
        values = {name: _setting_of(extras, name, conn_id) for name in SETTINGS} | dict(overrides)
        base_url = base_url_of(conn, conn_id)
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        if parts.scheme.lower() == "http" and is_public_host(host):
            logger.warning(
                "The Callbell connection %r sends its API token in clear text (http://) to %r, a host "
                "not known to be private: use https:// unless every network on the way is private",
                conn_id,
                host,
            )
        if values["max_requests_per_second"] > CALLBELL_RATE_LIMIT and _is_callbell(base_url):
            logger.warning(
                "max_requests_per_second=%g is above Callbell's limit of %d requests a second per "
                "account: expect 429 answers and retries",
                values["max_requests_per_second"],
                CALLBELL_RATE_LIMIT,
            )
        return cls(
            base_url=base_url,
            token=token,
            timeout=values["timeout"],
            connect_timeout=values["connect_timeout"],
            max_retries=int(values["max_retries"]),
            retry_backoff=values["retry_backoff"],
            max_requests_per_second=values["max_requests_per_second"],
            rate_limit_redis_conn_id=redis_conn_id_of(extras, conn_id),
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
