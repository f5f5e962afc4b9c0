"""CallbellMessageDeliveryTrigger on an event loop against the sandbox."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_callbell.api.messages import OutgoingMessage
from airflow_provider_callbell.sandbox import CallbellSandbox
from airflow_provider_callbell.triggers.messages import CallbellMessageDeliveryTrigger
from tests.conftest import SandboxFactory, connect, quick_hook


@pytest.fixture
def account(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    sandbox = sandbox_factory(contacts=20, seed=2, message_status_interval=0.02)
    connect(monkeypatch, sandbox)
    return sandbox


def first_event(trigger: CallbellMessageDeliveryTrigger) -> Any:
    async def run() -> Any:
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(asyncio.wait_for(run(), 10))


def test_fires_once_every_message_is_settled(account: CallbellSandbox) -> None:
    contacts = [c for c in account.contacts() if c["source"] == "whatsapp"][:2]
    for contact in contacts:
        account.receive_message(contact["uuid"])
    account.make_unreachable(contacts[1]["phoneNumber"])
    hook = quick_hook()
    uuids = [hook.send_message(OutgoingMessage(to=c["phoneNumber"], text="Ciao"))["uuid"] for c in contacts]
    trigger = CallbellMessageDeliveryTrigger(uuids, poll_interval=0.02, context={"rows": 2})

    classpath, kwargs = trigger.serialize()
    payload = first_event(CallbellMessageDeliveryTrigger(**kwargs))

    assert classpath == "airflow_provider_callbell.triggers.messages.CallbellMessageDeliveryTrigger"
    assert payload["status"] == "done"
    assert payload["context"] == {"rows": 2}
    assert payload["statuses"][uuids[0]] in ("delivered", "read")
    assert payload["statuses"][uuids[1]] == "failed"


def test_an_unknown_message_ends_the_wait_with_an_error(account: CallbellSandbox) -> None:
    payload = first_event(CallbellMessageDeliveryTrigger(["0" * 32], poll_interval=0.01))

    assert payload["status"] == "error"
    assert "404" in payload["message"]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="uuids must be a Callbell identifier"):
        CallbellMessageDeliveryTrigger(["../x"])
    with pytest.raises(ValueError, match="poll_interval must be a number from"):
        CallbellMessageDeliveryTrigger(["a"], poll_interval=0)
