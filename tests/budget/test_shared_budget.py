"""An account-wide request budget, shared through a real Redis by processes, threads and async hooks."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_callbell.api import budget as budget_module
from airflow_provider_callbell.api.budget import KEY_PREFIX, SharedBudget, account_key
from airflow_provider_callbell.hooks.callbell import CallbellHook
from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook
from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.budget.exports import Exports, connection_env, run_exports
from tests.budget.redis_server import RedisServer

BUDGET = 100
#: Callbell's limit in these tests: a little over the budget, as the README advises, since on a
#: busy machine requests reach the server less evenly than they leave.
ACCOUNT_LIMIT = 110
#: The most requests the sandbox may see in one second for a budget: the budget, give or take
#: the few whose arrival a busy machine delays into the next window.
SEEN_AT_MOST = BUDGET + 4
CONTACTS = 1200


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallbellSandbox]:
    """A sandbox that allows a little more than the budget a second, and no more."""
    with CallbellSandbox(contacts=CONTACTS, seed=11, rate_limit=ACCOUNT_LIMIT) as sandbox:
        yield sandbox


def assert_each_exact(exports: Exports, sandbox: CallbellSandbox) -> None:
    every = sorted(contact["uuid"] for contact in sandbox.contacts())
    assert len(every) == CONTACTS
    for name, result in exports.results.items():
        assert sorted(result["uuids"]) == every, name


def test_without_a_shared_budget_hooks_on_one_account_earn_429s(
    account: CallbellSandbox, tmp_path: Path
) -> None:
    """The measure the other tests rely on: four hooks each under the limit draw 429s together."""
    exports = run_exports(tmp_path, connection_env(account, None, BUDGET, retry_backoff=0.05))

    assert_each_exact(exports, account)
    stats = account.stats
    assert stats.rate_limited > 0
    assert stats.max_requests_per_second > ACCOUNT_LIMIT


def test_four_exports_in_two_processes_share_the_budget(
    account: CallbellSandbox, redis_server: RedisServer, tmp_path: Path
) -> None:
    exports = run_exports(tmp_path, connection_env(account, redis_server.port, BUDGET))

    assert_each_exact(exports, account)
    stats = account.stats
    assert stats.rate_limited == 0
    assert stats.max_requests_per_second <= SEEN_AT_MOST
    # All four at the budget: the requests took about as long as the budget lets them.
    started = min(result["started"] for result in exports.results.values())
    finished = [result["finished"] - started for result in exports.results.values()]
    # (a sliding window lets the first second's requests go at once)
    assert max(finished) >= 0.85 * (stats.total_requests - BUDGET) / BUDGET
    # None starves: all four end close together, as they started, with the same work.
    assert min(finished) >= 0.7 * max(finished), finished


def test_the_budget_is_keyed_by_a_hash_of_the_token_never_the_token(
    account: CallbellSandbox, redis_server: RedisServer, tmp_path: Path
) -> None:
    run_exports(
        tmp_path, connection_env(account, redis_server.port, BUDGET), processes=1, hooks_per_process=1
    )

    client = redis_server.client()
    keys: list[str] = sorted(client.keys("*"))  # type: ignore[arg-type]
    key = account_key(account.token)
    assert keys == [key, f"{key}:hooks"]
    assert key.startswith(KEY_PREFIX)
    members = [str(member) for k in keys for member in client.zrange(k, 0, -1)]
    stored = " ".join([*keys, *members])
    token = account.token
    assert not any(token[i : i + 8] in stored for i in range(len(token) - 7))


def test_exports_finish_exact_when_redis_dies_mid_run(
    account: CallbellSandbox, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Six hooks in three processes: each goes on alone with a sixth of the budget."""

    def kill_redis_once_the_exports_are_under_way() -> None:
        while account.stats.total_requests < 150:
            time.sleep(0.01)
        redis_server.kill()

    exports = run_exports(
        tmp_path,
        connection_env(account, redis_server.port, BUDGET),
        processes=3,
        meanwhile=kill_redis_once_the_exports_are_under_way,
    )

    assert_each_exact(exports, account)
    stats = account.stats
    assert stats.total_requests > 2 * 150
    assert stats.rate_limited == 0
    assert stats.max_requests_per_second <= SEEN_AT_MOST
    warnings = [line for line in exports.logs.splitlines() if "cannot be reached" in line]
    assert len(warnings) == 6, exports.logs[-5000:]
    share = (
        f"at most {BUDGET / 6:g} requests a second on its own, its share of {BUDGET:g} (6 seen sharing it)"
    )
    assert all(share in line for line in warnings), warnings


def test_a_hook_that_never_reaches_redis_takes_a_quarter_of_the_budget(
    account: CallbellSandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with RedisServer(Path(os.environ["AIRFLOW_HOME"]) / "gone") as gone:
        port = gone.port
    for name, value in connection_env(account, port, BUDGET).items():
        monkeypatch.setenv(name, value)

    hook = CallbellHook()
    started = time.monotonic()
    walked = [contact["uuid"] for contact in hook.iter_contacts(concurrency=4)]
    elapsed = time.monotonic() - started

    assert sorted(walked) == sorted(contact["uuid"] for contact in account.contacts())
    assert isinstance(hook.budget, SharedBudget)
    assert hook.budget.share == BUDGET / 4
    assert "its share of 100 (Redis never answered)" in caplog.text
    assert account.stats.max_requests_per_second <= BUDGET / 4 + 2
    assert elapsed >= 0.9 * (account.stats.total_requests - BUDGET / 4) / (BUDGET / 4)


def test_a_redis_that_never_answers_is_left_after_its_timeout(
    account: CallbellSandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis that accepts connections and never answers held every request for ever: the
    Redis provider sets no timeout. Past REDIS_TIMEOUT the hooks go alone, sync and async."""
    monkeypatch.setattr(budget_module, "REDIS_TIMEOUT", 0.3)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nothing answers
        for name, value in connection_env(account, silent.getsockname()[1], BUDGET).items():
            monkeypatch.setenv(name, value)

        walked = [contact["uuid"] for contact in CallbellHook().iter_contacts()]

        async def first_page() -> Any:
            hook = CallbellAsyncHook()
            try:
                return await hook.request("GET", "contacts")
            finally:
                await hook.aclose()

        page = asyncio.run(first_page())

    assert sorted(walked) == sorted(contact["uuid"] for contact in account.contacts())
    assert len(page["contacts"]) == 20
    assert caplog.text.count("cannot be reached (TimeoutError)") == 2


def test_sync_and_async_hooks_and_writes_draw_from_one_budget(
    account: CallbellSandbox, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trigger's async walk, a task's export and a task's writes at once, in one process."""
    for name, value in connection_env(account, redis_server.port, BUDGET).items():
        monkeypatch.setenv(name, value)
    every = sorted(contact["uuid"] for contact in account.contacts())
    walked: dict[str, list[str]] = {}

    def export() -> None:
        walked["sync"] = [contact["uuid"] for contact in CallbellHook().iter_contacts(concurrency=4)]

    def write() -> None:
        writer = CallbellHook()
        for uuid in every[:60]:
            writer.update_contact(uuid, note="scored")

    async def watch() -> list[str]:
        hook = CallbellAsyncHook()
        try:
            return [contact["uuid"] async for contact in hook.iter_contacts(concurrency=4)]
        finally:
            await hook.aclose()

    threads = [threading.Thread(target=export), threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    walked["async"] = asyncio.run(watch())
    for thread in threads:
        thread.join()

    assert sorted(walked["sync"]) == every
    assert sorted(walked["async"]) == every
    assert [account.get_contact(uuid)["note"] for uuid in every[:60]] == ["scored"] * 60
    stats = account.stats
    assert stats.by_method["PATCH"] == 60
    assert stats.rate_limited == 0
    assert stats.max_requests_per_second <= SEEN_AT_MOST
    assert stats.total_requests > 1.5 * BUDGET
