"""One vendor call per key at a time, however many requests want it.

In one process: the first caller starts the call as a task; everyone else awaits the same task
(shielded, so one impatient request giving up cancels nothing for the others). Across processes,
`SharedFlight` adds redis-py's own `Lock` (SET NX PX, released only by its holder): the process
holding it calls the vendor, the others watch the shared cache tier for its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from connectors.redisclient import SharedRedis

T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to call the vendor: holding the key's lock, or without one because Redis is unreachable
    (a lock we cannot take must not stop the page)."""

    lock: Lock | None


class SharedFlight:
    """A short Redis lock per key, so only one gateway process refreshes a key at a time."""

    def __init__(self, redis: SharedRedis) -> None:
        self.redis = redis

    def _lock(self, key: str, ttl_s: float | None = None) -> Lock:
        return Lock(self.redis.client, self.redis.key("lock", key), timeout=ttl_s, thread_local=False)

    async def acquire(self, key: str, ttl_s: float) -> Permit | None:
        """Leave to call for `key`, or None while another process holds its lock."""
        lock = self._lock(key, max(0.001, ttl_s))
        acquired = await self.redis.call(lambda r: lock.acquire(blocking=False), None)
        if acquired:
            return Permit(lock)
        return None if self.redis.healthy else Permit(None)

    async def release(self, permit: Permit) -> None:
        """Let go, if the lock is still ours (it may have expired and been taken by another process)."""
        lock = permit.lock
        if lock is None:
            return

        async def release(_: object) -> None:
            with contextlib.suppress(LockError):  # expired, maybe someone else's now: nothing to do
                await lock.release()

        await self.redis.call(release, None)

    async def wait_for_peer(self, key: str, probe: Callable[[], Awaitable[T | None]], wait_s: float,
                            interval_s: float = 0.01) -> T | None:
        """Poll `probe` (a shared-cache read) while the peer holds the lock, for at most `wait_s`.

        None if the peer let go without an answer (its call failed), Redis went away, or time ran out.
        """
        lock = self._lock(key)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            found = await probe()
            if found is not None:
                return found
            if not await self.redis.call(lambda r: lock.locked(), False):
                return await probe()  # the peer may have stored its answer just before letting go
            await asyncio.sleep(min(interval_s, max(0.0, deadline - time.monotonic())))
        return None
