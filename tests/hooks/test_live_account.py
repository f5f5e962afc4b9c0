"""Walks of a live account over real HTTP: contacts move, appear, vanish and get tagged meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests

from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook
from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.conftest import SandboxFactory, quick_hook
from tests.live import BUSY, assert_exact

FAULTS = {"error_rate": 0.04, "throttle_rate": 0.04, "drop_rate": 0.04, "max_faults_per_request": 1}


def live_account(sandbox_factory: SandboxFactory, **settings: Any) -> CallbellSandbox:
    """3,000 contacts, 20 a page, 10 ms a request, 400 events a second."""
    return sandbox_factory(**{"contacts": 3000, "seed": 4, "latency": 0.01, **BUSY, **settings})


def naive_walk(sandbox: CallbellSandbox) -> list[str]:
    """Page numbers in order until an empty page: what a plain pagination loop does."""
    walked, number = [], 1
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {sandbox.token}"
        while contacts := session.get(f"{sandbox.url}/contacts", params={"page": number}).json()["contacts"]:
            walked += [contact["uuid"] for contact in contacts]
            number += 1
    return walked


def test_the_live_sandbox_defeats_a_plain_page_walk(sandbox_factory: SandboxFactory) -> None:
    sandbox = live_account(sandbox_factory, pagination="pages", page_cap=None)

    before = sandbox.state()
    walked = naive_walk(sandbox)
    wanted = sandbox.expected_walk(before, sandbox.state())

    assert wanted.must - set(walked), "moving contacts should make a plain walk miss some"
    assert len(walked) > len(set(walked)), "and repeat some"


@pytest.mark.parametrize("semantics", ["keyset", "snapshot"])
@pytest.mark.parametrize("concurrency", [1, 16])
@pytest.mark.parametrize("page_cap", [500, 20], ids=["below-cap", "past-cap"])
def test_every_contact_exactly_once_while_the_account_moves(
    sandbox_factory: SandboxFactory, semantics: str, concurrency: int, page_cap: int
) -> None:
    sandbox = live_account(sandbox_factory, cursor_semantics=semantics, page_cap=page_cap)

    before = sandbox.state()
    walked = [contact["uuid"] for contact in quick_hook().iter_contacts(concurrency=concurrency)]
    wanted = sandbox.expected_walk(before, sandbox.state())

    assert_exact(walked, wanted)
    assert wanted.moved(), "the account should have moved under the walk"


@pytest.mark.parametrize("semantics", ["keyset", "snapshot"])
@pytest.mark.parametrize("concurrency", [1, 16])
def test_exact_with_faults_on_a_moving_account(
    sandbox_factory: SandboxFactory, semantics: str, concurrency: int
) -> None:
    sandbox = live_account(sandbox_factory, cursor_semantics=semantics, page_cap=40, **FAULTS)

    before = sandbox.state()
    walked = [contact["uuid"] for contact in quick_hook().iter_contacts(concurrency=concurrency)]
    wanted = sandbox.expected_walk(before, sandbox.state())

    assert_exact(walked, wanted)
    assert sum(sandbox.stats.faults.values()) > 0


@pytest.mark.parametrize("semantics", ["keyset", "snapshot"])
def test_a_tag_filter_on_a_moving_account(sandbox_factory: SandboxFactory, semantics: str) -> None:
    sandbox = live_account(sandbox_factory, cursor_semantics=semantics)

    before = sandbox.state()
    walked = [contact["uuid"] for contact in quick_hook().iter_contacts(tags="lead", concurrency=4)]
    wanted = sandbox.expected_walk(before, sandbox.state(), tag="lead")

    assert_exact(walked, wanted)
    assert len(wanted.must) > 100


@pytest.mark.parametrize("semantics", ["keyset", "snapshot"])
@pytest.mark.parametrize("concurrency", [1, 8])
def test_the_async_hook_is_exact_too(
    sandbox_factory: SandboxFactory, semantics: str, concurrency: int
) -> None:
    sandbox = live_account(sandbox_factory, cursor_semantics=semantics, page_cap=50)

    async def walk() -> list[str]:
        hook = CallbellAsyncHook(max_requests_per_second=5000, retry_backoff=0.001)
        try:
            return [contact["uuid"] async for contact in hook.iter_contacts(concurrency=concurrency)]
        finally:
            await hook.aclose()

    before = sandbox.state()
    walked = asyncio.run(walk())
    wanted = sandbox.expected_walk(before, sandbox.state())

    assert_exact(walked, wanted)
    assert wanted.moved()
