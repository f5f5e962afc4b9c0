"""The callbell connection: both env-var forms, settings, auth, single contacts, test_connection."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import requests

from airflow_provider_callbell.connection import DEFAULT_BASE_URL
from airflow_provider_callbell.exceptions import (
    CallbellAuthError,
    CallbellInvalidResponseError,
    CallbellNotFoundError,
    CallbellTransportError,
)
from airflow_provider_callbell.hooks.callbell import CallbellHook
from tests.conftest import SandboxFactory, quick_hook

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox import CallbellSandbox


def use_connection(monkeypatch: pytest.MonkeyPatch, value: str, conn_id: str = "callbell_default") -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)


def test_json_connection_keeps_the_full_url(
    sandbox: CallbellSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(
        monkeypatch,
        json.dumps({"conn_type": "callbell", "host": sandbox.url, "password": sandbox.token}),
        "my_callbell",
    )
    hook = CallbellHook(callbell_conn_id="my_callbell")

    assert hook.base_url == sandbox.url
    assert hook.get_contact(sandbox.contacts()[0]["uuid"])["uuid"] == sandbox.contacts()[0]["uuid"]


def test_uri_connection_with_an_encoded_url_host(
    sandbox: CallbellSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, f"callbell://:{sandbox.token}@{quote(sandbox.url, safe='')}")
    hook = CallbellHook()

    assert hook.base_url == sandbox.url
    assert hook.test_connection()[0]


@pytest.mark.parametrize(
    ("uri", "base_url"),
    [
        ("callbell://:tok-5f2a9c@api.callbell.eu/v1", "https://api.callbell.eu/v1"),
        (
            "callbell://:tok-5f2a9c@proxy.example.com:8443/callbell/v1",
            "https://proxy.example.com:8443/callbell/v1",
        ),
        ("callbell://:tok-5f2a9c@api.callbell.eu", "https://api.callbell.eu/v1"),
        ("callbell://:tok-5f2a9c@", DEFAULT_BASE_URL),
    ],
)
def test_uri_connection_base_urls(monkeypatch: pytest.MonkeyPatch, uri: str, base_url: str) -> None:
    use_connection(monkeypatch, uri)

    assert CallbellHook().base_url == base_url


def test_settings_come_from_arguments_then_extras_then_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, "callbell://:tok-5f2a9c@api.callbell.eu/v1?timeout=12&max_retries=2")

    config = CallbellHook(max_retries=4).config

    assert (config.timeout, config.connect_timeout, config.max_retries) == (12.0, 10.0, 4)
    assert (config.retry_backoff, config.max_requests_per_second) == (0.5, 200.0)
    assert "tok-5f2a9c" not in repr(config)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "timeout must be a number from 0.001 to 3600, got 0"),
        ({"max_retries": 1.5}, "max_retries must be a whole number from 0 to 100, got 1.5"),
        ({"max_requests_per_second": -3}, "max_requests_per_second must be a number from 0.01"),
        ({"retry_backoff": "soon"}, "retry_backoff must be a number from 0.001 to 30, got 'soon'"),
    ],
)
def test_bad_settings_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CallbellHook(**kwargs)


def test_bad_extra_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, "callbell://:tok-5f2a9c@api.callbell.eu/v1?max_requests_per_second=fast")

    with pytest.raises(ValueError, match=r"max_requests_per_second must be a number from 0\.01 to 10000"):
        CallbellHook().budget  # noqa: B018


def test_session_is_reused_with_the_documented_headers(sandbox: CallbellSandbox) -> None:
    hook = quick_hook()
    session = hook.get_conn()

    hook.get_contact(sandbox.contacts()[0]["uuid"])
    hook.get_contact(sandbox.contacts()[1]["uuid"])

    assert hook.get_conn() is session
    assert session.headers["Accept"] == "application/json"
    assert str(session.headers["User-Agent"]).startswith("airflow-provider-callbell/0.1.0")


def test_wrong_token_fails_at_once_without_echoing_it(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory(contacts=5)
    use_connection(
        monkeypatch,
        json.dumps({"conn_type": "callbell", "host": sandbox.url, "password": "wrong-secret-token"}),
    )

    with pytest.raises(CallbellAuthError, match=r"HTTP 401.*Check the API token") as caught:
        list(quick_hook().iter_contacts())

    assert sandbox.stats.total_requests == 1
    assert "wrong-secret-token" not in str(caught.value)


def test_missing_token_fails_before_any_request(
    sandbox: CallbellSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, json.dumps({"conn_type": "callbell", "host": sandbox.url}))

    with pytest.raises(CallbellAuthError, match="has no API token"):
        list(quick_hook().iter_contacts())
    assert sandbox.stats.total_requests == 0


def test_get_contact_and_by_phone(sandbox: CallbellSandbox) -> None:
    hook = quick_hook()
    wanted = sandbox.contacts()[4]

    assert hook.get_contact(wanted["uuid"]) == wanted
    assert "customFieldsMetadata" in hook.get_contact(wanted["uuid"], include_field_types=True)
    assert hook.get_contact_by_phone(wanted["phoneNumber"])["uuid"] == wanted["uuid"]


def test_unknown_contact_is_not_found(sandbox: CallbellSandbox) -> None:
    with pytest.raises(CallbellNotFoundError, match="HTTP 404 to GET /contacts/"):
        quick_hook().get_contact("0" * 32)
    assert sandbox.stats.total_requests == 1


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_get_contact_needs_a_uuid(sandbox: CallbellSandbox, bad: Any) -> None:
    with pytest.raises(ValueError, match="uuid must be a non-empty string"):
        quick_hook().get_contact(bad)


class _ListWrappedContact(requests.adapters.BaseAdapter):
    """The reference's example wraps the contact in a list; the sandbox never does."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.raw = io.BytesIO(json.dumps({"contact": [{"uuid": "abc", "name": "Zoë"}]}).encode())
        response.request = request
        return response

    def close(self) -> None:
        pass


def test_contact_wrapped_in_a_list_is_unwrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, "callbell://:tok-5f2a9c@api.callbell.eu/v1")
    hook = quick_hook()
    hook.get_conn().mount("https://", _ListWrappedContact())

    assert hook.get_contact("abc") == {"uuid": "abc", "name": "Zoë"}


def test_timeouts_are_retried_then_reported(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory(contacts=5, latency=0.5)
    hook = quick_hook(timeout=0.05, max_retries=1)

    with pytest.raises(CallbellTransportError, match=r"took longer than the 0\.05 s deadline"):
        hook.get_contact(sandbox.contacts()[0]["uuid"])

    assert sandbox.stats.total_requests == 2


def test_connection_refused_is_a_transport_error(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(
        monkeypatch,
        json.dumps({"conn_type": "callbell", "host": "http://127.0.0.1:9/v1", "password": "t-5f2a9c77"}),
    )

    with pytest.raises(CallbellTransportError, match="GET /auth/me failed: ConnectionError"):
        quick_hook(max_retries=1).request("GET", "auth/me")


def test_test_connection_reports_who(sandbox: CallbellSandbox) -> None:
    ok, message = CallbellHook().test_connection()

    assert ok
    assert message == f"Connected to Callbell at {sandbox.url} as owner@example.com"
    assert sandbox.token not in message


def test_test_connection_reports_a_bad_token(
    sandbox: CallbellSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(
        monkeypatch, json.dumps({"conn_type": "callbell", "host": sandbox.url, "password": "not-the-token"})
    )

    ok, message = CallbellHook().test_connection()

    assert not ok
    assert "Check the API token" in message


def test_server_echoing_the_token_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    class Echo(_ListWrappedContact):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            response = super().send(request)
            response.status_code = 400
            echoed = {"error": f"bad key {request.headers['Authorization']}"}
            response.raw = io.BytesIO(json.dumps(echoed).encode())
            return response

    use_connection(monkeypatch, "callbell://:s3cr3t-t0ken@api.callbell.eu/v1")
    hook = quick_hook()
    hook.get_conn().mount("https://", Echo())

    with pytest.raises(Exception, match=r"bad key Bearer \*\*\*") as caught:
        hook.get_contact("abc")
    assert "s3cr3t-t0ken" not in str(caught.value)


def test_a_non_json_success_body_is_retried_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    class Html(_ListWrappedContact):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            calls.append(request.url)
            response = super().send(request)
            response.raw = io.BytesIO(b"<html>maintenance</html>")
            return response

    use_connection(monkeypatch, "callbell://:tok-5f2a9c@api.callbell.eu/v1")
    hook = quick_hook(max_retries=2)
    hook.get_conn().mount("https://", Html())

    with pytest.raises(CallbellInvalidResponseError, match="cannot be read as JSON"):
        hook.get_contact("abc")
    assert len(calls) == 3


def test_test_connection_tries_once(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(contacts=1, rate_limit=1)  # one request a second
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    assert requests.get(f"{sandbox.url}/auth/me", headers=headers, timeout=10).status_code == 200

    ok, message = CallbellHook().test_connection()

    assert not ok
    assert "HTTP 429" in message
    assert sandbox.stats.total_requests == 2, "a 429 is not retried by the connection test"


def test_test_connection_to_a_closed_port_answers_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(
        monkeypatch,
        json.dumps({"conn_type": "callbell", "host": "http://127.0.0.1:9/v1", "password": "tok-5f2a9c"}),
    )
    hook = CallbellHook()
    sent = []
    monkeypatch.setattr(hook, "_retrying", lambda *args: sent.append(args))

    ok, message = hook.test_connection()

    assert not ok
    assert "GET /auth/me failed: ConnectionError" in message
    assert sent == [], "no retry machinery involved"
