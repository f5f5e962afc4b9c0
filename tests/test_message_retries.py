"""A send that died after the message went out, then a try whose look-up failed: never sent twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_callbell.api.messages import OutgoingMessage
from airflow_provider_callbell.exceptions import CallbellServerError
from airflow_provider_callbell.hooks.callbell import CallbellHook
from airflow_provider_callbell.messaging import sender
from airflow_provider_callbell.messaging.ledger import Ledger
from airflow_provider_callbell.messaging.sender import BatchSend
from airflow_provider_callbell.sandbox import CallbellSandbox


class MemoryState:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


class DiesAfterSending(CallbellHook):
    def send_message(self, *args: Any, **kwargs: Any) -> Any:
        super().send_message(*args, **kwargs)
        raise RuntimeError("worker killed")


class LookupDown(CallbellHook):
    def find_sent_message(self, *args: Any, **kwargs: Any) -> Any:
        raise CallbellServerError("HTTP 503")


def test_a_third_try_finds_the_first_tries_message_after_a_failed_look_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with CallbellSandbox(contacts=20, seed=3) as sandbox:
        connection = json.loads(sandbox.airflow_connection())
        connection["extra"] = {"retry_backoff": 0.001, "max_retries": 0}
        monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", json.dumps(connection))
        contact = next(c for c in sandbox.contacts() if c["source"] == "whatsapp")
        sandbox.receive_message(contact["uuid"])
        ledger = Ledger(MemoryState())  # type: ignore[arg-type]
        scope = ("dag", "task", "run", -1)

        def rows() -> list[Any]:
            return [(1, lambda: OutgoingMessage(to=contact["phoneNumber"], text="hi"))]

        def outbound() -> list[dict[str, Any]]:
            return [m for m in sandbox.messages(contact["uuid"]) if m["direction"] == "outbound"]

        with pytest.raises(RuntimeError):
            list(BatchSend(DiesAfterSending(), ledger, scope).run(rows()))
        assert len(outbound()) == 1
        # The second try, after Airflow's retry delay, cannot look: Callbell answers 5xx.
        later = datetime.now(UTC) + timedelta(minutes=10)
        monkeypatch.setattr(sender, "sending_mark", lambda: {"state": "sending", "at": later.isoformat()})
        (looked,) = list(BatchSend(LookupDown(), ledger, scope).run(rows()))
        assert looked.error == "HTTP 503"

        (result,) = list(BatchSend(CallbellHook(), ledger, scope).run(rows()))

        assert result.earlier
        assert len(outbound()) == 1


def test_a_send_failing_past_every_retry_fails_its_row_alone_and_is_looked_for_next_try(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every request meets two 5xx, one more than the hook's retries: each row fails by itself,
    its mark stays 'sending' (a 5xx may hide a sent message), and the next try sends it once."""
    with CallbellSandbox(contacts=20, seed=3) as sandbox:
        connection = json.loads(sandbox.airflow_connection())
        connection["extra"] = {"retry_backoff": 0.001, "max_retries": 1}
        monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", json.dumps(connection))
        contacts = [c for c in sandbox.contacts() if c["source"] == "whatsapp"][:2]
        for contact in contacts:
            sandbox.receive_message(contact["uuid"])
        state = MemoryState()
        ledger = Ledger(state)  # type: ignore[arg-type]
        rows = [
            (number, lambda to=contact["phoneNumber"]: OutgoingMessage(to=to, text="hi"))
            for number, contact in enumerate(contacts, start=1)
        ]
        sandbox.configure(error_rate=1.0, max_faults_per_request=2)

        failed = list(BatchSend(CallbellHook(), ledger, ("dag", "task", "run", -1)).run(rows))

        assert [(sent.row, "HTTP 5" in str(sent.error)) for sent in failed] == [(1, True), (2, True)]
        assert [mark["state"] for mark in state.values.values()] == ["sending", "sending"]
        sandbox.configure(error_rate=0.0)
        again = list(BatchSend(CallbellHook(), ledger, ("dag", "task", "run", -1)).run(rows))
        assert [(sent.error, sent.earlier) for sent in again] == [(None, False), (None, False)]
        outbound = [m for m in sandbox.messages() if m["direction"] == "outbound"]
        assert sorted(m["contactUuid"] for m in outbound) == sorted(c["uuid"] for c in contacts)


def test_a_retry_writing_the_number_another_way_finds_the_message_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One recipient however written: the first try's '+39 333 ...', the retry's upstream '+39333...'."""
    with CallbellSandbox(contacts=20, seed=3) as sandbox:
        monkeypatch.setenv("AIRFLOW_CONN_CALLBELL_DEFAULT", sandbox.airflow_connection())
        contact = next(c for c in sandbox.contacts() if c["source"] == "whatsapp")
        sandbox.receive_message(contact["uuid"])
        ledger = Ledger(MemoryState())  # type: ignore[arg-type]
        digits = "+" + "".join(char for char in contact["phoneNumber"] if char.isdigit())
        spaced = f"{digits[:3]} {digits[3:6]} {digits[6:]}"

        for number in (spaced, digits, "00" + digits[1:]):
            rows = [(1, lambda to=number: OutgoingMessage(to=to, text="hi"))]
            list(BatchSend(CallbellHook(), ledger, ("dag", "task", "run", -1)).run(rows))

        outbound = [m for m in sandbox.messages(contact["uuid"]) if m["direction"] == "outbound"]
        assert len(outbound) == 1


@pytest.mark.parametrize("key", ["", " k ", "a b", "k" * 501])
def test_an_idempotency_key_that_is_not_one_is_refused_not_replaced_by_a_random_one(key: str) -> None:
    """A template that rendered nothing would send again what a retry should find."""
    import asyncio

    from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook

    message = OutgoingMessage(to="+39 333 000 1111", text="hi")
    with pytest.raises(ValueError, match=r"^idempotency_key must be"):
        CallbellHook().send_message(message, idempotency_key=key)
    with pytest.raises(ValueError, match=r"^idempotency_key must be"):
        asyncio.run(CallbellAsyncHook().send_message(message, idempotency_key=key))
