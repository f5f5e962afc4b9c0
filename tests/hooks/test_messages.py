"""Messages through the hook over HTTP: templates, the 24-hour window, statuses, lost answers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_callbell.api.messages import OutgoingMessage
from airflow_provider_callbell.exceptions import CallbellClientError, CallbellMessageWindowError
from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.conftest import SandboxFactory, quick_hook


@pytest.fixture
def account(sandbox_factory: SandboxFactory) -> CallbellSandbox:
    return sandbox_factory(contacts=40, seed=9, message_status_interval=0.02)


def approved(sandbox: CallbellSandbox, placeholders: int) -> dict[str, Any]:
    return next(
        t for t in sandbox.templates if t["status"] == "approved" and t["text"].count("{{") == placeholders
    )


def reachable(sandbox: CallbellSandbox) -> dict[str, Any]:
    """A WhatsApp contact whose customer wrote just now."""
    contact = next(c for c in sandbox.contacts() if c["source"] == "whatsapp")
    sandbox.receive_message(contact["uuid"])
    return contact


def test_text_inside_the_window_is_sent_and_delivered(account: CallbellSandbox) -> None:
    contact = reachable(account)
    hook = quick_hook()

    sent = hook.send_message(OutgoingMessage(to=contact["phoneNumber"], text="Ciao!"), idempotency_key="k-1")

    assert sent["status"] == "enqueued"
    deadline = time.monotonic() + 5
    while hook.get_message_status(sent["uuid"])["status"] != "read" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hook.get_message_status(sent["uuid"])["status"] == "read"
    (stored,) = [m for m in account.messages(contact["uuid"]) if m["direction"] == "outbound"]
    assert (stored["content"], stored["metadata"]) == ({"text": "Ciao!"}, {"idempotency_key": "k-1"})


def test_free_text_outside_the_window_asks_for_a_template(account: CallbellSandbox) -> None:
    contact = reachable(account)
    account.close_window(contact["uuid"])
    hook = quick_hook()

    with pytest.raises(CallbellMessageWindowError, match=r"24 hours.*send an approved template"):
        hook.send_message(OutgoingMessage(to=contact["phoneNumber"], text="Ciao!"))
    template = approved(account, 1)
    hook.send_message(
        OutgoingMessage(to=contact["phoneNumber"], template_uuid=template["uuid"], template_values=["Ada"])
    )

    (stored,) = [m for m in account.messages(contact["uuid"]) if m["direction"] == "outbound"]
    assert stored["templateValues"] == ["Ada"]


def test_a_template_refused_by_callbell_is_a_client_error(account: CallbellSandbox) -> None:
    contact = reachable(account)
    template = approved(account, 2)

    with pytest.raises(CallbellClientError, match="template_values"):
        quick_hook().send_message(
            OutgoingMessage(
                to=contact["phoneNumber"], template_uuid=template["uuid"], template_values=["one"]
            )
        )
    assert not [m for m in account.messages(contact["uuid"]) if m["direction"] == "outbound"]


@pytest.mark.parametrize("delay", [0.0, 0.5], ids=["dropped", "timed-out"])
def test_a_lost_answer_is_found_not_sent_again(account: CallbellSandbox, delay: float) -> None:
    contact = reachable(account)
    account.configure(lost_reply_rate=1.0, lost_reply_delay=delay, max_faults_per_request=1)

    sent = quick_hook(timeout=0.3).send_message(
        OutgoingMessage(to=contact["phoneNumber"], text="Una volta"), idempotency_key="once-only"
    )

    outbound = [m for m in account.messages(contact["uuid"]) if m["direction"] == "outbound"]
    assert [m["uuid"] for m in outbound] == [sent["uuid"]]
    assert account.stats.faults == {"lost_reply": 1}


def test_a_lost_contact_creation_is_found_by_its_number(account: CallbellSandbox) -> None:
    account.configure(lost_reply_rate=1.0, max_faults_per_request=1)
    count = len(account.contacts())

    created = quick_hook().create_contact("+39 351 777 0000", name="Persa")

    assert len(account.contacts()) == count + 1
    assert account.get_contact(created["uuid"])["name"] == "Persa"


def test_a_lost_delete_is_done(account: CallbellSandbox) -> None:
    uuid = account.contacts()[0]["uuid"]
    account.configure(lost_reply_rate=1.0, max_faults_per_request=1)

    quick_hook().delete_contact(uuid)

    assert uuid not in {c["uuid"] for c in account.contacts()}


def test_failures_before_the_write_are_retried_as_they_are(account: CallbellSandbox) -> None:
    contact = reachable(account)
    account.configure(error_rate=0.5, throttle_rate=0.25, drop_rate=0.25, max_faults_per_request=3)

    for n in range(4):
        quick_hook().send_message(OutgoingMessage(to=contact["phoneNumber"], text=f"n{n}"))

    outbound = [m for m in account.messages(contact["uuid"]) if m["direction"] == "outbound"]
    assert sorted(m["content"]["text"] for m in outbound) == ["n0", "n1", "n2", "n3"]
    assert sum(account.stats.faults.values()) >= 4


def test_a_sent_message_is_found_by_its_key(account: CallbellSandbox) -> None:
    contact = reachable(account)
    hook = quick_hook()
    message = OutgoingMessage(to=contact["phoneNumber"], text="Già")
    hook.send_message(message, idempotency_key="early")

    found = hook.find_sent_message(message, "early", since=datetime.now(UTC) - timedelta(minutes=1))
    missing = hook.find_sent_message(message, "other", since=datetime.now(UTC) - timedelta(minutes=1))

    assert found is not None
    assert found["uuid"]
    assert missing is None


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({}, "needs text, template_uuid or media_url"),
        ({"text": "x", "media_url": "https://e.com/y.png"}, "cannot be combined"),
        ({"media_url": "ftp://x"}, "media_url must be an http"),
        ({"text": "x", "template_values": ["a"]}, "template_values need template_uuid"),
        ({"template_uuid": "t1", "template_values": "a,b"}, "template_values must be a list"),
        ({"text": "x", "metadata": {"idempotency_key": "k"}}, "other than 'idempotency_key'"),
        ({"text": "x", "metadata": {f"k{n}": "v" for n in range(10)}}, "at most 9 keys"),
        ({"text": "x", "media_type": "image"}, "media_type needs media_url"),
    ],
)
def test_bad_messages_are_refused_before_any_request(parts: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OutgoingMessage(to="+39 333 000 1111", **parts)
