"""The API token never reaches a log line or an error message, whatever fails."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_provider_callbell.exceptions import CallbellError
from tests.conftest import SandboxFactory, quick_hook

TOKEN = "cb-secret-7f3a9e1d2c"


def test_token_absent_from_every_log_line(sandbox_factory: SandboxFactory, logs: Callable[[], str]) -> None:
    sandbox_factory(
        contacts=80, page_size=10, page_cap=2, token=TOKEN, error_rate=0.2, throttle_rate=0.2, drop_rate=0.1
    )
    hook = quick_hook()
    hook.progress_interval = 0.0

    assert len(list(hook.iter_contacts(tags="lead, vip"))) > 0
    hook.test_connection()

    text = logs()
    assert "retrying in" in text
    assert "GET /v1/contacts" in text
    assert TOKEN not in text


def test_token_absent_from_exhausted_retry_errors(
    sandbox_factory: SandboxFactory, logs: Callable[[], str]
) -> None:
    sandbox_factory(contacts=5, token=TOKEN, drop_rate=1.0, max_faults_per_request=50)

    with pytest.raises(CallbellError) as caught:
        list(quick_hook(max_retries=1).iter_contacts())

    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.__cause__)
    assert TOKEN not in logs()
