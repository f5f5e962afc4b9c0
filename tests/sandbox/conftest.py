"""Fixtures for the sandbox tests: sandboxes that stop when the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.sandbox.client import ApiClient

MakeSandbox = Callable[..., CallbellSandbox]


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    """Start a sandbox with the given settings; rate limiting is off unless asked for."""
    started: list[CallbellSandbox] = []

    def make(**settings: Any) -> CallbellSandbox:
        settings.setdefault("rate_limit", None)
        sandbox = CallbellSandbox(**settings).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[CallbellSandbox]:
    """A read-only sandbox of 250 contacts in cursor mode, shared by a module's tests."""
    with CallbellSandbox(contacts=250, seed=42, rate_limit=None) as sandbox:
        yield sandbox


@pytest.fixture
def client(shared_sandbox: CallbellSandbox) -> ApiClient:
    """A client of the shared sandbox."""
    return ApiClient(shared_sandbox)
