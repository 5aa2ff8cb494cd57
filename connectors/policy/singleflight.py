"""One vendor call per key at a time, however many requests want it.

In one process: the first caller starts the call as a task; everyone else awaits the same task
(shielded, so one impatient request giving up cancels nothing for the others). Across processes,
the policy adds a Redis lock (`SharedFlight`): the process holding it calls the vendor, the others
watch the shared cache tier for its answer.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from connectors.policy.cache import RedisTier

T = TypeVar("T")

# Release a lock only if it is still ours (it may have expired and been taken by another process).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class SingleFlight:
    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Task[Any]] = {}

    async def do(self, key: str, start: Callable[[], Awaitable[T]], *, wait_s: float) -> tuple[T, bool]:
        """The result of the one call for `key`, and whether this caller started it.

        A caller that joins someone else's call waits at most `wait_s` (its own deadline).
        """
        task = self._flights.get(key)
        leader = task is None
        if task is None:
            task = asyncio.ensure_future(start())
            self._flights[key] = task
            task.add_done_callback(lambda _t: self._flights.pop(key, None))
            # Everyone waiting may have given up before it ends: retrieve its outcome regardless.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        try:
            async with asyncio.timeout(wait_s):
                return await asyncio.shield(task), leader
        except TimeoutError:
            if task.done() and not task.cancelled():
                raise  # the shared call itself timed out
            raise TimeoutError(f"waited {wait_s * 1000:.0f} ms for another request's call to {key}") from None

    def __len__(self) -> int:
        return len(self._flights)

    def tasks(self) -> list[asyncio.Task[Any]]:
        return list(self._flights.values())


class SharedFlight:
    """A short Redis lock per key, so only one gateway process refreshes a key at a time."""

    def __init__(self, redis: RedisTier) -> None:
        self.redis = redis

    async def acquire(self, key: str, ttl_s: float) -> tuple[str, str] | None:
        """The lock for `key`, or None if another process holds it. With Redis unavailable, every
        process may call (a lock we cannot take must not stop the page)."""
        lock_key = self.redis.key("lock", key)
        token = secrets.token_hex(8)
        acquired = await self.redis.call(lambda r: r.set(lock_key, token, nx=True, px=max(1, int(ttl_s * 1000))),
                                         None)
        if acquired:
            return lock_key, token
        return None if self.redis.healthy else ("", "")

    async def release(self, lock: tuple[str, str]) -> None:
        lock_key, token = lock
        if lock_key:
            await self.redis.call(lambda r: r.eval(_RELEASE, 1, lock_key, token), 0)

    async def wait_for_peer(self, key: str, probe: Callable[[], Awaitable[T | None]], wait_s: float,
                            interval_s: float = 0.01) -> T | None:
        """Poll `probe` (a shared-cache read) while the peer holds the lock, for at most `wait_s`.

        None if the peer let go without an answer (its call failed), Redis went away, or time ran out.
        """
        lock_key = self.redis.key("lock", key)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            found = await probe()
            if found is not None:
                return found
            if not await self.redis.call(lambda r: r.exists(lock_key), 0):
                return await probe()  # the peer may have stored its answer just before letting go
            await asyncio.sleep(min(interval_s, max(0.0, deadline - time.monotonic())))
        return None
