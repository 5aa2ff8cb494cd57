"""One vendor call per key at a time, however many requests want it.

In one process: the first caller starts the call as a task; everyone else awaits the same task
(shielded, so one impatient request giving up cancels nothing for the others). Across processes,
`SharedFlight` adds a lease in Redis (SET NX PX, released only by its holder): the process holding
it calls the vendor, the others watch the shared cache tier for its answer. The lease is let go with the
answer's write, queued with the request's other writes (`connectors.sharedwrites`).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.crc import key_slot

from connectors.redisclient import SharedRedis
from connectors.sharedwrites import Write

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

    def running(self, key: str) -> bool:
        """Whether a call for `key` is under way (a caller now would join it, not start one)."""
        return key in self._flights

    def tasks(self) -> list[asyncio.Task[Any]]:
        return list(self._flights.values())


# Read a key's shared entry and, when there is none, take its lease, in one round trip: an uncontended
# miss costs what the read alone cost. The lease is a key of the entry's slot (`SharedFlight.lease_key`),
# so on a cluster both keys are on the node the script runs on.
_READ_OR_LEASE = """
local value = redis.call('GET', KEYS[1])
if value then return {value, 0} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {false, 1} end
return {false, 0}
"""
# Take the lease whatever the entry holds (a stale entry is being refreshed).
_LEASE = "return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0"
@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to call the vendor: holding the key's lease (`token`), or without one because Redis is
    unreachable (a lease we cannot take must not stop the page)."""

    key: str  # the shared cache entry's key
    token: str | None


@dataclass(frozen=True, slots=True)
class Claim:
    """What one round trip found: the shared entry's payload, or the lease (`permit`), or neither while
    another process holds the lease."""

    payload: bytes | None
    permit: Permit | None


class SharedFlight:
    """A short lease in Redis per key (SET NX PX, released only by its holder), so only one gateway
    process calls the vendor for a key at a time. Taking it costs nothing extra when no one else holds
    it: it comes with the shared-cache read (`read_or_lease`), and goes with the shared-cache write
    (`release`)."""

    def __init__(self, redis: SharedRedis) -> None:
        self.redis = redis
        client = redis.client
        self._read_or_lease = client.register_script(_READ_OR_LEASE)
        self._lease = client.register_script(_LEASE)

    @staticmethod
    def lease_key(entry_key: str) -> str:
        """The lease's key, in the entry's hash slot: the entry's key as the hash tag, or, when the entry's
        key has a hash tag of its own, that tag kept first. (A key with an empty `{}` before any tag has no
        such twin; cache keys are `vendor:operation:fingerprint`, with no braces.)"""
        tagged = f"{{{entry_key}}}:lease"
        return tagged if key_slot(tagged.encode()) == key_slot(entry_key.encode()) else f"{entry_key}:lease"

    async def read_or_lease(self, key: str, ttl_s: float) -> Claim:
        """The shared entry for `key` if there is one; else the lease, unless another process holds it.
        Redis unreachable: no entry, and leave to call without a lease."""
        entry = self.redis.key("cache", key)
        token = secrets.token_hex(8)
        # One pipeline with the other calls' reads of this moment (a page asks tax, insurance, engraving at once).
        found = await self.redis.together(self._read_or_lease, [entry, self.lease_key(entry)], [token, _ms(ttl_s)],
                                          None)
        if found is None:
            return Claim(None, None if self.redis.healthy else Permit(entry, None))
        payload, leased = found
        return Claim(payload or None, Permit(entry, token) if leased else None)

    async def acquire(self, key: str, ttl_s: float) -> Permit | None:
        """The lease for `key` whatever the shared entry holds, or None while another process holds it."""
        entry = self.redis.key("cache", key)
        token = secrets.token_hex(8)
        leased = await self.redis.call(lambda r: self._lease(keys=[self.lease_key(entry)],
                                                             args=[token, _ms(ttl_s)], client=r), None)
        if leased:
            return Permit(entry, token)
        return None if self.redis.healthy else Permit(entry, None)

    async def release(self, permit: Permit, payload: bytes | None = None, keep_s: float = 0.0,
                      unless: Callable[[], bool] | None = None) -> None:
        """Store `payload` as the key's shared entry (if given, and unless `unless()` says an event dropped
        it since) and let go of the lease, if it is still ours (it may have expired and been taken by
        another process): one round trip, with the request's other writes (`SharedRedis.write`)."""
        writes = [Write([("set", permit.key, payload, _ms(keep_s))], unless)] if payload is not None else []
        if permit.token is not None:
            writes.append(Write([("release", self.lease_key(permit.key), permit.token)]))
        if writes:
            await self.redis.write(*writes)

    async def let_go(self, permit: Permit) -> None:
        """Let go of a lease no answer comes with (its call failed, or will not be made) at once, not with
        the request's writes: another process may be waiting to take it, or this one (a flight of its own)."""
        if permit.token is not None:
            await self.redis.send_writes([Write([("release", self.lease_key(permit.key), permit.token)])])

    async def wait_for_peer(self, key: str, probe: Callable[[], Awaitable[T | None]], wait_s: float,
                            interval_s: float = 0.01) -> T | None:
        """Poll `probe` (a shared-cache read) while the peer holds the lease, for at most `wait_s`.

        None if the peer let go without an answer (its call failed), Redis went away, or time ran out.
        """
        lease = self.lease_key(self.redis.key("cache", key))
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            found = await probe()
            if found is not None:
                return found
            if not await self.redis.call(lambda r: r.exists(lease), 0):
                return await probe()  # the peer may have stored its answer just before letting go
            await asyncio.sleep(min(interval_s, max(0.0, deadline - time.monotonic())))
        return None


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
