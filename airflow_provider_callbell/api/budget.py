"""The requests a hook may send: its own rate limit, or its account's budget shared through Redis.

Callbell counts requests per account, whatever task, worker or machine sends them. With
``rate_limit_redis_conn_id`` every hook on one account, sync or async, draws from one sliding
window kept in Redis by pyrate-limiter's Redis bucket, on Redis's clock, so that machines whose
clocks differ still share one window. The window's key is a hash of the API token, never the
token.

Each hook also says four times a second that it is drawing from the budget, so each knows how
many share it. When Redis cannot be reached, a hook goes on alone with its share of the budget
(the budget divided by the hooks seen in the last seconds, and by at least four: a hook that
joined since its last look is not known) for the rest of its life, after a window's pause so
that what it sent through Redis and what it sends alone never fall in one second. Going back
to Redis would let hooks that draw from it count without those still alone.
"""

from __future__ import annotations

import hashlib
import logging
import time
from inspect import isawaitable
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from pyrate_limiter import Limiter, Rate, RateItem, RedisBucket, SingleBucketFactory
from pyrate_limiter.buckets.redis_bucket import LuaScript

from airflow_provider_callbell.api.rate_limit import _SlidingWindow, request_rate

if TYPE_CHECKING:
    from collections.abc import Awaitable

    import redis
    import redis.asyncio

    from airflow_provider_callbell.connection import ClientConfig

logger = logging.getLogger(__name__)

ITEM = "callbell"
KEY_PREFIX = "callbell:budget:"
#: A hook not heard of for this long no longer counts as sharing the budget.
PARTY_TTL_MS = 5_000
BEAT_SECONDS = 0.25
#: Alone, a hook takes at most this part of the budget, however few hooks it saw sharing it.
MIN_PARTIES = 4
#: Seconds a Redis has to connect and to answer each command, and the retries of one that did
#: not (a few seconds in all); past them the hook goes alone.
REDIS_TIMEOUT = 2.0
REDIS_RETRIES = 2

# KEYS: the hooks drawing from the budget, the budget's window. ARGV: this hook, how long
# a hook counts, how long the window's requests are kept. On Redis's clock, like the window.
_BEAT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[1], ms, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ms - tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return redis.call('ZCARD', KEYS[1])
"""


def account_key(token: str) -> str:
    """The Redis key of the budget of the account whose API token this is."""
    return KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()[:32]


class LocalBudget:
    """This hook's own rate limit."""

    def __init__(self, max_requests_per_second: float, *, spent: bool = False) -> None:
        rate = request_rate(max_requests_per_second)
        bucket = _SlidingWindow(rate)
        if spent:
            bucket.put(RateItem(ITEM, bucket.now(), weight=rate.limit))  # type: ignore[no-untyped-call]
        self._limiter = Limiter(SingleBucketFactory(bucket, schedule_leak=False), buffer_ms=0)

    def acquire(self) -> None:
        """Wait until one more request may start."""
        self._limiter.try_acquire(ITEM)

    async def acquire_async(self) -> None:
        """:meth:`acquire` without blocking the event loop."""
        await self._limiter.try_acquire_async(ITEM)

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""


# pyrate-limiter counts the requests between the window's start and the new request's moment;
# a hook that read the clock a moment before another hook's request was stored would not see
# that request. Everything after the window's start counts here.
_COUNT_WINDOW = "redis.call('ZCOUNT', bucket, window_start, now)"
if _COUNT_WINDOW not in LuaScript.PUT_ITEM:
    raise ImportError("pyrate-limiter's Redis script changed: the shared request budget needs a look")
_PUT_ITEM = LuaScript.PUT_ITEM.replace(_COUNT_WINDOW, "redis.call('ZCOUNT', bucket, window_start, '+inf')")


class _RedisWindow(RedisBucket):
    """pyrate-limiter's Redis bucket on Redis's clock rather than this machine's, and counting
    the requests other hooks stored a moment after this one read the clock."""

    @classmethod
    def init(cls, rates: list[Rate], redis: Any, bucket_key: str, algorithm: Any = None) -> Any:
        script_hash = redis.script_load(_PUT_ITEM)
        if isawaitable(script_hash):
            return cls._ready(rates, redis, bucket_key, script_hash)
        return cls(rates, redis, bucket_key, script_hash)

    @classmethod
    async def _ready(
        cls, rates: list[Rate], redis: Any, bucket_key: str, script_hash: Awaitable[str]
    ) -> _RedisWindow:
        return cls(rates, redis, bucket_key, await script_hash)

    def now(self) -> int | Awaitable[int]:
        reply = self.redis.time()
        if isawaitable(reply):
            return _milliseconds_of(reply)
        return _milliseconds(reply)


def _milliseconds(reply: tuple[int, int]) -> int:
    seconds, microseconds = reply
    return int(seconds) * 1000 + int(microseconds) // 1000


async def _milliseconds_of(reply: Awaitable[tuple[int, int]]) -> int:
    return _milliseconds(await reply)


class SharedBudget:
    """The account's budget, kept in Redis and shared by every hook that uses the account.

    :param max_requests_per_second: the account's budget.
    :param key: the budget's Redis key, from :func:`account_key`.
    :param client: a ``redis.Redis`` for a sync hook, a ``redis.asyncio.Redis`` for an async one.
    :param redis_conn_id: the Airflow connection of that Redis, for messages.
    """

    def __init__(
        self,
        max_requests_per_second: float,
        key: str,
        client: redis.Redis | redis.asyncio.Redis,
        redis_conn_id: str,
    ) -> None:
        self.max_requests_per_second = max_requests_per_second
        self.key = key
        self.redis_conn_id = redis_conn_id
        self._client = client
        self._rate = request_rate(max_requests_per_second)
        # a sync or an async script, as the client is
        self._beat: Any = client.register_script(_BEAT)
        self._beat_args: list[str | int] = [uuid4().hex, PARTY_TTL_MS, 2 * self._rate.interval]
        self._beat_due = 0.0
        self._limiter: Limiter | None = None
        self._alone: LocalBudget | None = None
        self.parties: int | None = None

    def acquire(self) -> None:
        """Wait until the account's budget lets one more request start."""
        import redis

        if self._alone is None:
            try:
                if self._limiter is None:
                    self._limiter = self._limiter_of(_RedisWindow.init([self._rate], self._client, self.key))
                if self._beat_is_due():
                    self.parties = int(self._beat(keys=self._beat_keys, args=self._beat_args))
                self._limiter.try_acquire(ITEM)
                return
            except redis.RedisError as error:
                self._go_alone(error)
        assert self._alone is not None
        self._alone.acquire()

    async def acquire_async(self) -> None:
        """:meth:`acquire` without blocking the event loop."""
        import redis

        if self._alone is None:
            try:
                if self._limiter is None:
                    bucket = await _RedisWindow.init([self._rate], self._client, self.key)
                    self._limiter = self._limiter or self._limiter_of(bucket)
                if self._beat_is_due():
                    self.parties = int(await self._beat(keys=self._beat_keys, args=self._beat_args))
                await self._limiter.try_acquire_async(ITEM)
                return
            except redis.RedisError as error:
                self._go_alone(error)
        assert self._alone is not None
        await self._alone.acquire_async()

    def close(self) -> None:
        """Close the sync client's connections."""
        self._client.close()

    async def aclose(self) -> None:
        """Close the async client's connections."""
        import redis.asyncio

        if isinstance(self._client, redis.asyncio.Redis):
            await self._client.aclose()
        else:
            self._client.close()

    @property
    def share(self) -> float:
        """The requests a second this hook takes alone when Redis cannot be reached."""
        return self.max_requests_per_second / max(self.parties or 0, MIN_PARTIES)

    @property
    def _beat_keys(self) -> list[str]:
        return [f"{self.key}:hooks", self.key]

    @staticmethod
    def _limiter_of(bucket: Any) -> Limiter:
        return Limiter(SingleBucketFactory(bucket, schedule_leak=False), buffer_ms=0)

    def _beat_is_due(self) -> bool:
        now = time.monotonic()
        if now < self._beat_due:
            return False
        self._beat_due = now + BEAT_SECONDS
        return True

    def _go_alone(self, error: Exception) -> None:
        if self._alone is not None:
            return
        seen = f"{self.parties} seen sharing it" if self.parties else "Redis never answered"
        logger.warning(
            "The Callbell account's request budget in Redis (connection %r) cannot be reached (%s): "
            "this hook now sends at most %g requests a second on its own, its share of %g (%s), "
            "until it is done",
            self.redis_conn_id,
            type(error).__name__,
            self.share,
            self.max_requests_per_second,
            seen,
        )
        self._alone = LocalBudget(self.share, spent=True)


RequestBudget = LocalBudget | SharedBudget


def request_budget(config: ClientConfig) -> RequestBudget:
    """The budget a sync hook with these settings draws from."""
    conn_id = config.rate_limit_redis_conn_id
    if conn_id is None:
        return LocalBudget(config.max_requests_per_second)
    client = redis_client(conn_id)
    return SharedBudget(config.max_requests_per_second, account_key(config.token), client, conn_id)


async def async_request_budget(config: ClientConfig) -> RequestBudget:
    """The budget an async hook with these settings draws from."""
    conn_id = config.rate_limit_redis_conn_id
    if conn_id is None:
        return LocalBudget(config.max_requests_per_second)
    from asgiref.sync import sync_to_async

    client = await sync_to_async(async_redis_client)(conn_id)
    return SharedBudget(config.max_requests_per_second, account_key(config.token), client, conn_id)


def redis_client(conn_id: str) -> redis.Redis:
    """A client of the Redis that the Airflow ``redis`` connection ``conn_id`` names."""
    from airflow_provider_callbell.exceptions import CallbellConfigurationError

    try:
        import redis
        from airflow.providers.redis.hooks.redis import RedisHook
    except ImportError:
        raise CallbellConfigurationError(
            "rate_limit_redis_conn_id needs the Redis provider: "
            "pip install 'airflow-provider-callbell[redis]'"
        ) from None
    from airflow.providers.common.compat.sdk import AirflowNotFoundException

    hook = RedisHook(redis_conn_id=conn_id)
    try:
        conn = hook.get_connection(conn_id)
    except AirflowNotFoundException:
        conn = None
    if conn is None:
        raise CallbellConfigurationError(
            f"rate_limit_redis_conn_id names {conn_id!r}, which is no Airflow connection: create a "
            "redis connection of that id, or remove the extra for a limit per hook"
        )
    if conn.conn_type != "redis" or not conn.host or not conn.port:
        # another service's connection would get its password, or the Callbell token, as Redis AUTH
        raise CallbellConfigurationError(
            f"rate_limit_redis_conn_id names {conn_id!r}, a {conn.conn_type!r} connection"
            f"{'' if conn.conn_type != 'redis' else ' without a host and a port'}: name a redis "
            "connection with a host and a port, such as the Celery broker's"
        )
    client = hook.get_conn()  # type: ignore[no-untyped-call]
    if not isinstance(client, redis.Redis):
        raise CallbellConfigurationError(
            f"rate_limit_redis_conn_id names {conn_id!r}, a Redis cluster: the request budget needs "
            "a single Redis server (or one behind a proxy), such as the Celery broker"
        )
    # The Redis provider sets no timeouts (redis-py 8 waits 5 s, older ones for ever), and redis-py
    # retries a timeout 10 times: a Redis that never answers would hold a request for minutes.
    client.connection_pool.connection_kwargs.update(
        socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )
    client.set_retry(redis.retry.Retry(_redis_backoff(), REDIS_RETRIES))
    return client


def _redis_backoff() -> redis.backoff.AbstractBackoff:
    import redis.backoff

    return redis.backoff.ExponentialBackoff(cap=1.0, base=0.1)


#: The options of a sync client that an asyncio client takes too, besides ``ssl``.
_ASYNC_OPTIONS = frozenset(
    {
        *("host", "port", "db", "username", "password", "socket_timeout", "socket_connect_timeout"),
        *("ssl_keyfile", "ssl_certfile", "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_data"),
        "ssl_check_hostname",
    }
)


def async_redis_client(conn_id: str) -> redis.asyncio.Redis:
    """:func:`redis_client` for asyncio code, set up from the same connection in the same way."""
    import redis
    import redis.asyncio
    import redis.asyncio.retry

    pool = redis_client(conn_id).connection_pool
    options = {name: value for name, value in pool.connection_kwargs.items() if name in _ASYNC_OPTIONS}
    retry = redis.asyncio.retry.Retry(_redis_backoff(), REDIS_RETRIES)
    return redis.asyncio.Redis(
        ssl=issubclass(pool.connection_class, redis.SSLConnection), retry=retry, **options
    )
