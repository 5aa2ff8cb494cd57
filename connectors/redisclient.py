"""How Bezel reaches Redis: one client factory, and the shared tier's "degraded, never down" wrapper.

`connect` makes the one kind of client every Redis user here holds (page cache, single-flight locks,
checkout store): for a single node, a bounded, blocking connection pool, because redis-py's default
pool raises `MaxConnectionsError` when exhausted under load instead of waiting for a connection; for a
Redis Cluster (`cluster=True`, the URL naming any node), redis-py's cluster client, which finds the
other nodes, routes each command to the slot's master, and follows failovers. What must stay on one
slot does so by hash tag (checkout's keys share `{checkout}`); reads of many keys are split per slot
(`read_many`).

`SharedRedis` is for what may fail without failing a page (cache, locks): every call is bounded by a
short timeout; after a failure Redis is skipped for a while (doubling, up to 5 s) and then tried again,
so the gateway recovers by itself when Redis comes back. `together` sends the scripts asked for in one
turn of the event loop in one pipeline (a page's live calls read the shared tier at once). Checkout does
not degrade: its store turns a Redis failure into `CheckoutUnavailable` instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import redis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.crc import key_slot
from redis.exceptions import NoScriptError, RedisError

from connectors import sharedwrites
from connectors.config import RedisConfig
from connectors.sharedwrites import Write

T = TypeVar("T")
log = logging.getLogger("bezel.redis")
MAX_REDIS_BACKOFF_S = 5.0
# redis-py 8.1's asyncio cluster client, under a burst that opens many connections at once, can let
# one connection be set up by two callers; the loser fails inside the client with AttributeError
# ('NoneType' object has no attribute 'writelines'; seen with 200 concurrent checkouts). Raised from
# redis-py's own code, on a cluster client, these count as a failed Redis call (the connection
# reconnects on its next use); raised from ours, they are the bugs they look like.
CLUSTER_CLIENT_FAULTS: tuple[type[Exception], ...] = (AttributeError, TypeError)
_REDIS_PACKAGE = str(Path(redis.__file__).parent)
CLUSTER_READS_IN_FLIGHT = 16  # per multi-key read or write on a cluster: one call per slot, this many at a time


# How many turns of the event loop `together` collects scripts for before it sends them: a page's
# reads are asked for over several (its stock counters, by a DataLoader's dispatch after its variants
# resolve, come 4 turns after its vendors' cache reads: tests/e2e/test_redis_round_trips.py). Each turn
# is microseconds when the process is idle; a busy one sends more requests' reads per round trip.
TOGETHER_TURNS = 6
AnyRedis = Redis | RedisCluster
_NOTHING = object()  # a batched call's answer when Redis is down or slow: its caller's default


def failures(*, cluster: bool) -> tuple[type[Exception], ...]:
    """What a failed Redis call may raise, for this kind of client (`failed` decides)."""
    return (RedisError, OSError, TimeoutError, *(CLUSTER_CLIENT_FAULTS if cluster else ()))


def failed(exc: BaseException) -> bool:
    """Whether `exc` (one of `failures`) is Redis failing: always for Redis, socket and timeout errors;
    for the cluster client's AttributeError or TypeError, only when it was raised in redis-py itself."""
    if not isinstance(exc, CLUSTER_CLIENT_FAULTS):
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(_REDIS_PACKAGE)


def connect(url: str, *, max_connections: int, timeout_s: float, socket_timeout_s: float | None,
            cluster: bool = False) -> AnyRedis:
    """A client over a blocking pool (waits up to `timeout_s` for a free connection), or a cluster client."""
    if cluster:
        # Per node, `max_connections`; slots whose master is down (a failover under way) fail alone.
        return RedisCluster.from_url(url, max_connections=max_connections, socket_timeout=socket_timeout_s,
                                     socket_connect_timeout=timeout_s, require_full_coverage=False)
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=timeout_s,
                                           socket_timeout=socket_timeout_s, socket_connect_timeout=timeout_s)
    return Redis(connection_pool=pool)


async def bounded(operation: Awaitable[T], timeout_s: float, *, detach: bool) -> T:
    """`operation` within `timeout_s` (TimeoutError past it).

    `detach` (a cluster client): past the timeout the command is not cancelled but left to finish in the
    background. Cancelling a command of redis-py 8.1's asyncio cluster client mid-flight can hand a
    half-closed connection to the next caller (`AttributeError: 'NoneType' object has no attribute
    'writelines'`, seen here with 200 concurrent checkouts); a single-node pool recovers from it."""
    if not detach:
        async with asyncio.timeout(timeout_s):
            return await operation
    task = asyncio.ensure_future(operation)
    try:
        return await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError:
        task.add_done_callback(_settled)
        raise


def _settled(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a late failure is not "never retrieved"


def text(value: object) -> str:
    """A Redis reply as a string: our clients never decode responses, so replies are bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)


async def read_many(client: AnyRedis, keys: list[str]) -> list[bytes | str | None]:
    """GET of many keys: one MGET on a single node; on a cluster, one MGET per slot, in parallel.

    Not redis-py's `mget_nonatomic`: it goes through the cluster pipeline, which under concurrent use
    handed out connections still being set up (AttributeError on `_writer`, 140 times in one test of 200
    buyers); plain commands do not."""
    if not isinstance(client, RedisCluster):
        return await client.mget(keys)
    by_slot: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        by_slot.setdefault(key_slot(key.encode()), []).append(i)
    groups = list(by_slot.values())
    answers: list[list[bytes | str | None]] = []
    for start in range(0, len(groups), CLUSTER_READS_IN_FLIGHT):  # the client's pools do not queue: bounded
        answers += await asyncio.gather(*(client.mget([keys[i] for i in group])
                                          for group in groups[start:start + CLUSTER_READS_IN_FLIGHT]))
    found: list[bytes | str | None] = [None] * len(keys)
    for group, values in zip(groups, answers, strict=True):
        for i, value in zip(group, values, strict=True):
            found[i] = value
    return found


def many_of(source: str) -> str:
    """A script that runs `source` once per call it is given, in order, and answers their replies as a
    list: KEYS are the calls' keys one after another, ARGV starts with how many keys and args each call
    has, then their args. `source` must not answer nil (a Lua list ends at its first nil)."""
    return f"""local function one(KEYS, ARGV)
{source}
end
local nk, na = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {{}}
for i = 0, #KEYS / nk - 1 do
  local k, a = {{}}, {{}}
  for j = 1, nk do k[j] = KEYS[i * nk + j] end
  for j = 1, na do a[j] = ARGV[2 + i * na + j] end
  out[i + 1] = one(k, a)
end
return out
"""


class SharedRedis:
    """The shared tier's Redis, with its own short timeout and automatic recovery."""

    def __init__(self, config: RedisConfig) -> None:
        self.timeout_s = config.timeout_ms / 1000
        self.retry_after_s = config.retry_after_ms / 1000
        self.prefix = config.key_prefix
        self.cluster = config.cluster
        self.url = config.url
        self._failures = failures(cluster=config.cluster)
        self.client = connect(config.url, max_connections=config.max_connections, timeout_s=self.timeout_s,
                              socket_timeout_s=self.timeout_s, cluster=config.cluster)
        self.healthy = True
        self._skip_until = 0.0
        self._backoff_s = self.retry_after_s
        self._queued: list[tuple[AsyncScript, list[str], list[Any], asyncio.Future[Any]]] = []
        self._flushes: set[asyncio.Task[None]] = set()
        self._write_ops = self.client.register_script(sharedwrites.WRITE_OPS)
        self._many: dict[str, AsyncScript] = {}  # a script's sha -> its `many_of` form

    @property
    def state(self) -> str:
        """"ok", or "degraded" while Redis is being skipped after a failure."""
        return "ok" if self.healthy else "degraded"

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def call(self, operation: Callable[[AnyRedis], Awaitable[T]], default: T) -> T:
        """Run one Redis operation within the tier's timeout; `default` if Redis is down or slow."""
        now = time.monotonic()
        if not self.healthy and now < self._skip_until:
            return default
        try:
            result = await bounded(operation(self.client), self.timeout_s, detach=self.cluster)
        except self._failures as exc:
            if not failed(exc):
                raise
            self._failed(exc)
            return default
        if not self.healthy:
            log.warning("redis is back; shared cache tier restored")
            self.healthy = True
            self._backoff_s = self.retry_after_s
        return result

    async def together(self, script: AsyncScript, keys: list[str], args: list[Any], default: Any) -> Any:
        """Run `script` in the same round trip as every other script asked for in the next few turns of the
        event loop (`TOGETHER_TURNS`): one pipeline, one EVALSHA per script (`_merged`), within the tier's
        timeout; a page's cache reads and stock counters at once. `default` as `call` gives it. On a
        cluster, alone (its keys' node)."""
        if self.cluster:
            return await self.call(lambda r: script(keys=keys, args=args, client=r), default)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append((script, keys, args, future))
        if len(self._queued) == 1:
            asyncio.get_running_loop().call_soon(self._later, TOGETHER_TURNS - 1)
        found = await future
        return default if found is _NOTHING else found

    def _later(self, turns: int) -> None:
        if turns > 0:
            asyncio.get_running_loop().call_soon(self._later, turns - 1)
        else:
            self._flush()

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.ensure_future(self._send(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _send(self, batch: list[tuple[AsyncScript, list[str], list[Any], asyncio.Future[Any]]]) -> None:
        calls = self._merged(batch)

        async def run(r: AnyRedis) -> list[Any]:
            assert isinstance(r, Redis)
            async with r.pipeline(transaction=False) as pipe:
                for script, keys, args, _ in calls:
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                replies: list[Any] = await pipe.execute(raise_on_error=False)
            results: list[Any] = [None] * len(batch)
            for (script, keys, args, at), reply in zip(calls, replies, strict=True):
                if isinstance(reply, NoScriptError):  # Redis lost its scripts (restarted): load this one
                    reply = await script(keys=keys, args=args, client=r)
                elif isinstance(reply, Exception):
                    raise reply
                for i, one in zip(at, reply if at is not None and len(at) > 1 else [reply], strict=True):
                    results[i] = one
            return results

        try:
            found = await self.call(run, None)
        except BaseException as exc:  # a bug, or shutting down: every caller hears of it
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for i, (*_, future) in enumerate(batch):
            if not future.done():
                future.set_result(_NOTHING if found is None else found[i])

    def _merged(self, batch: list[tuple[AsyncScript, list[str], list[Any], asyncio.Future[Any]]]
                ) -> list[tuple[AsyncScript, list[str], list[Any], list[int]]]:
        """One EVALSHA per script in `batch`: calls of a script with the same number of keys and args go
        as one call of its `many` form (a page's three cache reads: one command, not three)."""
        by_script: dict[str, list[int]] = {}
        for i, (script, *_) in enumerate(batch):
            by_script.setdefault(script.sha, []).append(i)
        calls: list[tuple[AsyncScript, list[str], list[Any], list[int]]] = []
        for at in by_script.values():
            script, keys, args, _ = batch[at[0]]
            shapes = {(len(batch[i][1]), len(batch[i][2])) for i in at}
            if len(at) == 1 or len(shapes) > 1 or not keys:
                calls += [(batch[i][0], batch[i][1], batch[i][2], [i]) for i in at]
                continue
            many = self._many.get(script.sha)
            if many is None:
                many = self._many[script.sha] = self.client.register_script(many_of(text(script.script)))
            calls.append((many, [k for i in at for k in batch[i][1]],
                          [len(keys), len(args), *(a for i in at for a in batch[i][2])], at))
        return calls

    async def write(self, *writes: Write) -> None:
        """Store and let go (`connectors.sharedwrites`): queued with the request's other writes when a
        request is open (`sharedwrites.deferred_writes`), else sent now, together."""
        batch = sharedwrites.current()
        if batch is not None:
            batch.queued.setdefault(self, []).extend(writes)
            return
        await self.send_writes(list(writes))

    async def send_writes(self, writes: list[Write]) -> None:
        """`writes` in one script call (one per hash slot on a cluster), within the tier's timeout."""
        calls = sharedwrites.script_calls(writes, cluster=self.cluster)
        if not calls:
            return
        if len(calls) == 1:
            keys, args = calls[0]
            await self.call(lambda r: self._write_ops(keys=keys, args=args, client=r), None)
            return

        async def each(r: AnyRedis) -> None:  # a cluster's: one per slot, bounded as `read_many` is
            for start in range(0, len(calls), CLUSTER_READS_IN_FLIGHT):
                await asyncio.gather(*(self._write_ops(keys=keys, args=args, client=r)
                                       for keys, args in calls[start:start + CLUSTER_READS_IN_FLIGHT]))

        await self.call(each, None)

    def _failed(self, exc: BaseException) -> None:
        if self.healthy:
            log.warning("redis unavailable (%s); serving from the in-process tier", type(exc).__name__)
        else:
            self._backoff_s = min(MAX_REDIS_BACKOFF_S, self._backoff_s * 2)
        self.healthy = False
        self._skip_until = time.monotonic() + self._backoff_s

    async def ping(self) -> bool:
        return await self.call(lambda r: r.ping(), False)

    async def aclose(self) -> None:
        await self.client.aclose()
