"""The connection: URLs, extras and tokens that cannot work fail clearly, at once, showing no secret."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, cast

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_callbell.exceptions import CallbellAuthError, CallbellConfigurationError, CallbellError
from airflow_provider_callbell.hooks.callbell import CallbellHook
from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook
from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsTrigger

TOKEN = "cb-token-5e1f0a77c3b9"


def use(monkeypatch: pytest.MonkeyPatch, **connection: Any) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CALLBELL_DEFAULT",
        json.dumps({"conn_type": "callbell", "password": TOKEN, **connection}),
    )


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("http://admin:hunter2-pw@127.0.0.1:8765/v1", "user name or password"),
        ("admin:hunter2-pw@api.callbell.eu", "neither a host name nor a whole URL"),
        ("http:/api.callbell.eu/v1", "neither a host name nor a whole URL"),
        ("https://api.callbell.eu:0/v1", "port 0 is no port"),
        (f"https://{'a' * 64}.eu/v1", "at most 63 characters between dots, 253 in all"),
        (f"https://{('a' * 60 + '.') * 5}eu/v1", "at most 63 characters between"),
        ("https://api%40evil.example/v1", "is not a host name"),
        ("https://bücher.example/v1", "non-ASCII"),
        ("https://api.callbell.eu/v1/../auth", r"\. or \.\. segments"),
        (f"https://{TOKEN}.example.com/v1", "holds its API token"),
        ("https://api.callbell.eu/v1?", "a query"),
        ("https://api.callbell.eu/v1#", "a fragment"),
        ("https://api.callbell.eu/v1/%2e%2e/admin", "other characters than"),
        ("https://api.callbell.eu/v1;p", "other characters than"),
        (f"https://proxy.example/{TOKEN.replace('-', '%2D')}", "holds its API token"),
        (f"https://proxy.example/v1/{TOKEN[2:13]}", "holds its API token"),
        # the token where a host is checked: named by what it is, never quoted (nor lowercased)
        (TOKEN, "holds its API token"),
        (f"api.callbell.eu:{TOKEN}", "holds its API token"),
        (f"https://api.callbell.eu:{TOKEN}/v1", "holds its API token"),
        (f"https://[{TOKEN}]/v1", "holds its API token"),
        (f"https://{TOKEN.upper()}.example.com/v1", "holds its API token"),
        ("https://:hunter2-pw@api.callbell.eu/v1", "user name or password"),
        ("http://", "names no host"),
        ("https:///v1", "names no host"),
        ("http://[::1/v1", "Invalid IPv6 URL"),
        ("http://[zz::1]/v1", "IPv6|host"),
        ("ftp://api.callbell.eu/v1", "the scheme is 'ftp'"),
        ("file:///etc/passwd", "the scheme is 'file'"),
        ("http://127.0.0.1:99999/v1", "Port out of range"),
        ("https://api.callbell.eu:https/v1", "Port could not be cast"),
        ("https://api.callbell.eu/v1?token=x", "a query"),
        ("https://api.callbell.eu/v1#top", "a fragment"),
        ("https://api.call bell.eu/v1", "spaces"),
        ("https://api.callbell.eu/v1\r\nX-Evil: 1", "control characters"),
        ("https://999.1.1.1/v1", "not an IPv4 address"),
        ("https://1.2.3.4.5/v1", "not an IPv4 address"),
        ("http://10.0.0:8765/v1", "not an IPv4 address"),
        ("http://127.000.0.1:8765/v1", "not an IPv4 address"),
        ("https://[::1]evil/v1", "holds text after its IPv6 address"),
        ("https://[v1.fe]/v1", "not an IPv6 address"),
        ("http://127.0.0.1:/v1", "the port '' is no port number as written"),
        ("http://127.0.0.1:080/v1", "the port '080' is no port number as written"),
        ("http://[::1]:/v1", "the port '' is no port number"),
        ("https://api.callbell.eu//v1", r"an empty segment \(//\)"),
        ("2001:db8::1", "an IPv6 address goes in brackets"),
        ("http://api.callbell.eu/v1", "http:// would send the API token in clear text to 'api.callbell.eu'"),
        ("http://8.8.8.8:8080/v1", "in clear text to '8.8.8.8', a public host: use https://"),
        ("https://api.callbell.eu", "Callbell's API is at https://api.callbell.eu/v1, where the path '/'"),
        ("https://API.callbell.eu./v2", "where the path '/v2' answers nothing"),
    ],
)
def test_hosts_that_cannot_work(monkeypatch: pytest.MonkeyPatch, host: str, problem: str) -> None:
    use(monkeypatch, host=host)

    for hook in (CallbellHook(), CallbellAsyncHook()):
        with pytest.raises(CallbellConfigurationError, match=problem) as caught:
            hook.config if isinstance(hook, CallbellHook) else asyncio.run(hook.config())
        assert "hunter2" not in str(caught.value)
        assert "must be an http(s) URL" in str(caught.value)

    ok, message = CallbellHook().test_connection()
    assert not ok
    assert "hunter2" not in message
    assert re.search(problem, message)
    assert TOKEN[:6] not in message


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            {"host": "http://127.0.0.1/v1", "port": 8765},
            "so the connection's port would be ignored",
        ),
        ({"host": "http://127.0.0.1:8765/v1", "schema": "v2"}, "schema would be ignored"),
        ({"host": "http://127.0.0.1/v1", "port": 1, "schema": "v2"}, "port and schema would be ignored"),
        ({"host": "api.callbell.eu", "schema": "/"}, "its schema '/' names no path"),
        ({"host": "api.callbell.eu", "schema": "v2"}, "where the path '/v2' answers nothing"),
        ({"host": "api.callbell.eu", "schema": "//"}, "names no path"),
        ({"schema": "v2"}, "has no host, so its schema would be ignored for https://api.callbell.eu/v1"),
        ({"port": 8443}, "has no host, so its port would be ignored"),
        (
            {"host": "api.callbell.eu:8443", "port": 9000},
            "it names a port, and so does the connection's port field",
        ),
    ],
)
def test_connection_fields_that_would_be_ignored(fields: dict[str, Any], problem: str) -> None:
    from airflow.providers.common.compat.sdk import Connection

    from airflow_provider_callbell.connection import base_url_of

    conn = Connection(conn_id="callbell_default", conn_type="callbell", **fields)
    with pytest.raises(CallbellConfigurationError, match=problem):
        base_url_of(conn, "callbell_default")


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("http://127.0.0.1:8765/v1", False),
        ("http://[::1]:8765/v1", False),
        ("http://sandbox:8765/v1", False),
        ("http://10.20.30.40/v1", False),
        ("http://callbell.internal/api", False),
        ("https://proxy.example.com/callbell/v1", False),
        ("https://api.callbell.eu/v1", False),
        ("http://localhost.localdomain:8765/v1", True),
        ("http://callbell-sandbox.testing.svc:8765/v1", True),
        ("http://proxy.example.com/v1", True),
    ],
)
def test_plain_http_to_a_name_not_known_to_be_private_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, host: str, warned: bool
) -> None:
    """A private network's name cannot be told from a public one without DNS: plain http to a
    name not known to be private is warned about, not refused (to an address, or to Callbell, it is)."""
    use(monkeypatch, host=host)
    with caplog.at_level(logging.WARNING):
        assert CallbellHook().config.base_url == host

    assert ("in clear text (http://)" in caplog.text) is warned
    assert TOKEN[:6] not in caplog.text


@pytest.mark.parametrize("conn_type", ["http", "slack", "redis"])
def test_a_connection_of_another_type_is_refused_before_its_password_is_sent(
    monkeypatch: pytest.MonkeyPatch, conn_type: str
) -> None:
    """Its password, another service's secret, would go to Callbell as the API token."""
    use(monkeypatch, conn_type=conn_type, host="http://127.0.0.1:9/v1")
    refusal = f"The connection 'callbell_default' is a '{conn_type}' connection, not a 'callbell' one"

    for hook in (CallbellHook(), CallbellAsyncHook()):
        with pytest.raises(CallbellConfigurationError, match=refusal) as caught:
            hook.config if isinstance(hook, CallbellHook) else asyncio.run(hook.config())
        assert TOKEN[:6] not in str(caught.value)


def test_a_host_name_takes_the_port_and_schema_fields() -> None:
    from airflow.providers.common.compat.sdk import Connection

    from airflow_provider_callbell.connection import base_url_of

    conn = Connection(conn_id="c", conn_type="callbell", host="api.example", port=8443, schema="/v2/")
    assert base_url_of(conn, "c") == "https://api.example:8443/v2"


@pytest.mark.parametrize("port", [0, -1, 70000])
def test_a_host_name_with_a_port_that_cannot_work(port: int) -> None:
    from airflow.providers.common.compat.sdk import Connection

    from airflow_provider_callbell.connection import base_url_of

    conn = Connection(conn_id="callbell_default", conn_type="callbell", host="api.callbell.eu", port=port)
    with pytest.raises(
        CallbellConfigurationError, match=r"port 0 is no port|Port (out of range|could not be cast)"
    ):
        base_url_of(conn, "callbell_default")


@pytest.mark.parametrize(
    "extra",
    ["[1, 2]", '"timeout=3"', "not json", "3", "null", '{"timeout": 3', '{"timeout": 3, "timeout": 5}'],
)
def test_an_extra_that_is_no_json_object(monkeypatch: pytest.MonkeyPatch, extra: str) -> None:
    use(monkeypatch, extra=extra)

    with pytest.raises(
        CallbellConfigurationError, match="extra of the Callbell connection 'callbell_default' must be"
    ):
        CallbellHook().config  # noqa: B018


def test_misspelt_extras_are_named_with_the_known_ones(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    use(monkeypatch, extra={"timout": 5, "max_retries": 2, "rate": 9})
    caplog.set_level(logging.WARNING, "airflow_provider_callbell")

    assert CallbellHook().config.max_retries == 2

    assert "has extras Callbell does not use, ignored: rate, timout; its settings are timeout," in caplog.text


def test_a_login_is_named_as_unused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    use(monkeypatch, login="ada@example.com")
    caplog.set_level(logging.WARNING, "airflow_provider_callbell")

    CallbellHook().config  # noqa: B018

    assert "The login of the Callbell connection 'callbell_default' is not used" in caplog.text


@pytest.mark.parametrize("setting", ["timout", "max_retry", "token"])
def test_misspelt_hook_settings(setting: str) -> None:
    for hook in (CallbellHook, CallbellAsyncHook):
        with pytest.raises(
            ValueError, match=f"unknown Callbell settings \\['{setting}'\\]: the settings are timeout,"
        ):
            hook(**cast(Any, {setting: 3}))


@pytest.mark.parametrize(
    "token",
    [
        f"{TOKEN[:8]}\r\n{TOKEN[8:]}",
        f"{TOKEN[:8]}\n{TOKEN[8:]}",
        f"{TOKEN[:8]} {TOKEN[8:]}",
        f"{TOKEN[:8]}\t{TOKEN[8:]}",
        f"{TOKEN}\x00",
        f"{TOKEN}é",
        f"Bearer {TOKEN}",
        f'"{TOKEN}"',
        f"'{TOKEN}'",
        f'"{TOKEN}',
        f"{TOKEN}`",
        TOKEN[:7],
        TOKEN * 60,
    ],
    ids=[
        *("crlf", "lf-inside", "space", "tab", "nul", "non-ascii", "bearer-prefix"),
        *("double-quoted", "single-quoted", "half-quoted", "backtick-after", "too-short", "too-long"),
    ],
)
def test_tokens_that_cannot_be_sent(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    use(monkeypatch, password=token, host="http://127.0.0.1:9/v1")

    with pytest.raises(CallbellAuthError, match=r"paste (it again|the whole|it without)") as caught:
        CallbellHook().config  # noqa: B018

    assert TOKEN[:6] not in str(caught.value)
    assert TOKEN[-6:] not in str(caught.value)
    ok, message = CallbellHook().test_connection()
    assert not ok
    assert "paste" in message
    assert TOKEN[-6:] not in message


def test_a_configuration_error_reaches_the_sensor_as_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not an exception escaping the trigger: the deferred sensor fails with the reason."""
    use(monkeypatch, extra={"timeout": "soon"})
    trigger = CallbellNewLeadsTrigger(since="2026-01-01T00:00:00+00:00", baseline=[])

    event = asyncio.run(_first_event(trigger))

    assert event.payload["status"] == "error"
    assert "timeout must be a number from" in event.payload["message"]
    assert issubclass(CallbellConfigurationError, CallbellError)


async def _first_event(trigger: CallbellNewLeadsTrigger) -> TriggerEvent:
    return await anext(trigger.run())


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("https://api.callbell.eu/v1", True),
        ("HTTPS://API.callbell.eu/v1", True),
        ("https://api.callbell.eu:443/v1", True),
        ("api.callbell.eu.", True),
        ("http://127.0.0.1:8765/v1", False),
        ("https://api.callbell.eu.example/v1", False),
    ],
)
def test_a_rate_above_callbells_limit_is_warned_about_however_its_host_is_spelt(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, host: str, warned: bool
) -> None:
    use(monkeypatch, host=host, extra={"max_requests_per_second": 1000})
    with caplog.at_level(logging.WARNING):
        CallbellHook().config  # noqa: B018 - read when first used
    assert ("above Callbell's limit of 300" in caplog.text) is warned
