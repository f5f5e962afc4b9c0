"""Faults on writes: refusals apply nothing, a lost reply applies the write; the new settings and flags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_provider_callbell.sandbox import SandboxSettings
from airflow_provider_callbell.sandbox.__main__ import _parser, _settings, main
from tests.sandbox.client import ApiClient
from tests.sandbox.test_sandbox_faults import outcome, run_mixed_faults

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox import CallbellSandbox
    from tests.sandbox.conftest import MakeSandbox

NEW_CONTACT = {"identifier": "+1 555 0100", "source": "sms", "name": "A"}


def write(client: ApiClient, method: str, path: str, body: Any = None, timeout: float = 10) -> str:
    """What a write met: its status, or the transport failure."""
    try:
        response = client.session.request(method, client.url + path, json=body, timeout=timeout)
    except requests.exceptions.ReadTimeout:
        return "timed out"
    except requests.ConnectionError:
        return "dropped"
    return str(response.status_code)


def message_to(sandbox: CallbellSandbox, key: str = "k1") -> dict[str, Any]:
    """A template message, which needs no open window, with an idempotency key."""
    contact = sandbox.contacts()[-1]
    template = next(t for t in sandbox.templates if t["status"] == "approved" and "{{" not in t["text"])
    return {
        "to": contact["phoneNumber"],
        "from": contact["source"],
        "template_uuid": template["uuid"],
        "optin_contact": True,
        "metadata": {"idempotency_key": key},
    }


def account(sandbox: CallbellSandbox) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return sandbox.contacts(), sandbox.messages()


WRITES = ["send", "create", "patch", "delete"]


def apply_write(sandbox: CallbellSandbox, client: ApiClient, kind: str) -> str:
    target = sandbox.contacts()[2]["uuid"]
    if kind == "send":
        return write(client, "POST", "/messages/send", message_to(sandbox))
    if kind == "create":
        return write(client, "POST", "/contacts", NEW_CONTACT)
    if kind == "patch":
        return write(client, "PATCH", f"/contacts/{target}", {"tags": ["patched"]})
    return write(client, "DELETE", f"/contacts/{target}")


# Refusals: nothing is applied


@pytest.mark.parametrize("kind", WRITES)
@pytest.mark.parametrize(
    ("rate", "refused"), [("error_rate", "500"), ("throttle_rate", "429"), ("drop_rate", "dropped")]
)
def test_refused_writes_apply_nothing(make_sandbox: MakeSandbox, kind: str, rate: str, refused: str) -> None:
    sandbox = make_sandbox(contacts=5, max_faults_per_request=1, **{rate: 1.0})
    client = ApiClient(sandbox)
    before = account(sandbox)

    first = apply_write(sandbox, client, kind)
    untouched = account(sandbox)
    retried = apply_write(sandbox, client, kind)

    assert first == refused
    assert untouched == before
    assert retried == "200"
    assert account(sandbox) != before
    assert sandbox.stats.faults == {rate.removesuffix("_rate"): 1}


def test_faults_hit_the_message_endpoints(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5, max_faults_per_request=1)
    client = ApiClient(sandbox)
    uuid = client.post("/messages/send", message_to(sandbox)).json()["message"]["uuid"]
    contact = sandbox.messages()[0]["contactUuid"]
    sandbox.configure(error_rate=1.0)

    assert client.get(f"/messages/status/{uuid}").status_code == 500
    assert client.get(f"/contacts/{contact}/messages").status_code == 502
    assert client.get("/templates").status_code == 200


# Lost replies: the write is applied, the answer never comes


def test_lost_reply_after_the_client_gave_up(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5, lost_reply_rate=1.0, lost_reply_delay=0.4, max_faults_per_request=1)
    client = ApiClient(sandbox)
    body = message_to(sandbox, key="once")

    lost = write(client, "POST", "/messages/send", body, timeout=0.1)

    assert lost == "timed out"
    assert [m["metadata"] for m in sandbox.messages()] == [{"idempotency_key": "once"}]
    assert sandbox.stats.faults == {"lost_reply": 1}
    assert 200 not in sandbox.stats.by_status
    # A blind retry is answered, and sends again: why the provider keys its messages.
    assert write(client, "POST", "/messages/send", body) == "200"
    assert len(sandbox.messages()) == 2


def test_lost_reply_of_a_created_contact(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5, lost_reply_rate=1.0, max_faults_per_request=1)
    client = ApiClient(sandbox)

    lost = write(client, "POST", "/contacts", NEW_CONTACT)

    assert lost == "dropped"
    assert sandbox.contacts()[0]["phoneNumber"] == NEW_CONTACT["identifier"]
    assert len(sandbox.contacts()) == 6
    assert write(client, "POST", "/contacts", NEW_CONTACT) == "409"


def test_lost_replies_spare_reads_and_failed_writes(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5, lost_reply_rate=1.0)
    client = ApiClient(sandbox)

    assert outcome(client, "/contacts") == "200 json"
    assert write(client, "POST", "/messages/send", {"from": "whatsapp"}) == "400"
    assert sandbox.stats.faults == {}
    assert write(client, "POST", "/messages/send", message_to(sandbox)) == "dropped"


def test_truncation_spares_writes(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5, truncate_rate=1.0)
    client = ApiClient(sandbox)

    response = client.post("/messages/send", message_to(sandbox))

    assert response.json()["message"]["status"] == "enqueued"
    assert outcome(client, "/contacts") == "short-write"
    assert sandbox.stats.faults == {"truncate": 1}


# The same write retried


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_a_retried_write_meets_at_most_max_faults(make_sandbox: MakeSandbox, limit: int) -> None:
    sandbox = make_sandbox(contacts=5, error_rate=0.5, drop_rate=0.5, max_faults_per_request=limit)
    client = ApiClient(sandbox)
    body = message_to(sandbox)

    results = [write(client, "POST", "/messages/send", body) for _ in range(limit + 1)]

    assert results[-1] == "200"
    assert all(result != "200" for result in results[:-1])
    assert len(sandbox.messages()) == 1
    # Another body is another request, with a budget of its own.
    other = write(client, "POST", "/messages/send", message_to(sandbox, key="k2"))
    assert (other == "200") is (limit == 0)


def test_write_faults_are_deterministic_for_a_seed(make_sandbox: MakeSandbox) -> None:
    def run(seed: int) -> list[str]:
        sandbox = make_sandbox(
            contacts=5, seed=seed, error_rate=0.2, throttle_rate=0.1, drop_rate=0.1, lost_reply_rate=0.2
        )
        client = ApiClient(sandbox)
        return [write(client, "POST", "/messages/send", message_to(sandbox, key=str(n))) for n in range(30)]

    first = run(5)

    assert run(5) == first
    assert run(6) != first
    assert {"200", "dropped", "429"} <= set(first)
    assert {"500", "502", "503"} & set(first)


def test_reads_meet_the_same_faults_whatever_the_lost_reply_rate(make_sandbox: MakeSandbox) -> None:
    without = run_mixed_faults(make_sandbox, seed=3)
    sandbox = make_sandbox(
        contacts=40,
        seed=3,
        error_rate=0.2,
        throttle_rate=0.1,
        drop_rate=0.1,
        truncate_rate=0.1,
        lost_reply_rate=0.3,
        max_faults_per_request=100,
    )
    client = ApiClient(sandbox)

    with_lost_replies = [outcome(client, "/contacts", page=n % 3 + 1) for n in range(40)]

    assert with_lost_replies == without
    assert "lost_reply" not in sandbox.stats.faults


# Settings and command line


def test_new_settings_defaults() -> None:
    settings = SandboxSettings()

    assert (settings.lost_reply_rate, settings.lost_reply_delay) == (0.0, 0.0)
    assert (settings.message_status_interval, settings.message_failure_rate) == (0.2, 0.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lost_reply_rate", 1.5, "lost_reply_rate must be between 0 and 1"),
        ("lost_reply_rate", float("nan"), "lost_reply_rate must be a finite number"),
        ("lost_reply_delay", 61, "lost_reply_delay must be >= 0 and <= 60"),
        ("lost_reply_delay", -1, "lost_reply_delay must be >= 0"),
        ("message_status_interval", 0, "message_status_interval must be > 0"),
        ("message_status_interval", "1", "message_status_interval must be a finite number"),
        ("message_failure_rate", 1.1, "message_failure_rate must be between 0 and 1"),
        ("message_failure_rate", True, "message_failure_rate must be a finite number"),
    ],
)
def test_invalid_new_settings(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SandboxSettings(**{field: value})


def test_lost_replies_count_in_the_rate_sum() -> None:
    with pytest.raises(ValueError, match="lost_reply_rate must not exceed 1"):
        SandboxSettings(error_rate=0.6, lost_reply_rate=0.5)
    assert SandboxSettings(error_rate=0.5, lost_reply_rate=0.5).lost_reply_rate == 0.5


def test_new_settings_change_at_runtime(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=5)
    client = ApiClient(sandbox)

    sandbox.configure(lost_reply_rate=1.0, message_status_interval=5, message_failure_rate=1.0)

    assert write(client, "POST", "/messages/send", message_to(sandbox)) == "dropped"
    assert sandbox.messages()[0]["status"] == "enqueued"
    assert sandbox.settings.message_failure_rate == 1.0
    with pytest.raises(ValueError, match="message_status_interval"):
        sandbox.configure(message_status_interval=-1)


def test_message_and_lost_reply_flags() -> None:
    argv = [
        "--lost-reply-rate", "0.25",
        "--lost-reply-delay", "3",
        "--message-status-interval", "0.05",
        "--message-failure-rate", "0.1",
    ]  # fmt: skip

    settings = _settings(_parser().parse_args(argv))

    assert settings.replace(contacts=100) == SandboxSettings(
        lost_reply_rate=0.25, lost_reply_delay=3, message_status_interval=0.05, message_failure_rate=0.1
    )
    defaults = _settings(_parser().parse_args([]))
    assert (defaults.lost_reply_rate, defaults.lost_reply_delay) == (0, 0)
    assert (defaults.message_status_interval, defaults.message_failure_rate) == (0.2, 0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lost-reply-rate", "0.8", "--error-rate", "0.8"], "must not exceed 1"),
        (["--lost-reply-rate", "2"], "lost_reply_rate must be between 0 and 1"),
        (["--lost-reply-delay", "1e10"], "lost_reply_delay must be >= 0 and <= 60"),
        (["--lost-reply-delay", "nan"], "--lost-reply-delay: expected a number such as 5, 2.5 or 1e3"),
        (["--message-status-interval", "0"], "message_status_interval must be > 0"),
        (["--message-failure-rate", "-0.5"], "message_failure_rate must be >= 0"),
        (["--message-failure-rate", "lots"], "--message-failure-rate: expected a number such as"),
    ],
)
def test_bad_message_and_lost_reply_flags(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--contacts", "0"])

    assert caught.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error
