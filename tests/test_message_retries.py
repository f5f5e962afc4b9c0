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
        with pytest.raises(CallbellServerError):
            list(BatchSend(LookupDown(), ledger, scope).run(rows()))

        (result,) = list(BatchSend(CallbellHook(), ledger, scope).run(rows()))

        assert result.earlier
        assert len(outbound()) == 1
