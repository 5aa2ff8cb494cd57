"""What a request writes to the shared tier, sent in one round trip as it is answered.

A new shopper's page misses three or four keys (tax, insurance, engraving, scarce stock); each answer is
stored and its single-flight lease let go. Sent as each call returned, that was a round trip per key.
Inside `deferred_writes()` (the gateway opens one per HTTP request, `gateway.edge.writes`)
`SharedRedis.write` only queues; as the answer (or each part of a streamed one) is sent, the queue goes
to Redis as one script, one command (on a cluster, one per hash slot: a script's keys must share one).
Outside one, or after the request is over (a refresh that outlived it), a write goes at once.

The price: a lease is let go when the page is answered, not when its call returned, so another process
waiting on that key waits as long as this page took, within its own budget. A lease given back with no
answer (the call failed, or another call of this process serves the request) goes at once
(`SharedFlight.let_go`): someone may be waiting to take it. A queued write whose key or tag an event
dropped since the answer was asked for is not sent (`Write.unless`), as the call policy's own check does
at answer time: the queue must not bring back what the event took away.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.crc import key_slot

# One op per key: ("set", key, payload, px), ("tag", key, member, px): SADD + PEXPIRE, or
# ("release", key, token): DEL if the key still holds the token (a lease let go only by its holder).
Op = tuple[Any, ...]
# Ops in order; each names its one key in KEYS and takes 2 or 3 ARGV after its name.
WRITE_OPS = """
local a = 1
for k = 1, #KEYS do
  local op = ARGV[a]
  if op == 'set' then
    redis.call('SET', KEYS[k], ARGV[a + 1], 'PX', ARGV[a + 2]); a = a + 3
  elseif op == 'tag' then
    redis.call('SADD', KEYS[k], ARGV[a + 1]); redis.call('PEXPIRE', KEYS[k], ARGV[a + 2]); a = a + 3
  elseif op == 'release' then
    if redis.call('GET', KEYS[k]) == ARGV[a + 1] then redis.call('DEL', KEYS[k]) end; a = a + 2
  else
    return redis.error_reply('unknown write op ' .. tostring(op))
  end
end
return #KEYS
"""


@dataclass(slots=True)
class Write:
    ops: Sequence[Op]
    unless: Callable[[], bool] | None = None  # checked when sent: True drops the write (an event came)


class Tier(Protocol):
    """Where writes go (`connectors.redisclient.SharedRedis`)."""

    async def send_writes(self, writes: list[Write]) -> None: ...


@dataclass(slots=True)
class WriteBatch:
    """One request's queued writes, by shared tier."""

    queued: dict[Tier, list[Write]] = field(default_factory=dict)
    closed: bool = False  # the request is over: writes go at once

    async def flush(self) -> None:
        """Send what is queued (the request goes on queuing: a streamed answer flushes after each part)."""
        queued, self.queued = self.queued, {}
        await asyncio.gather(*(redis.send_writes(writes) for redis, writes in queued.items()))


_BATCH: contextvars.ContextVar[WriteBatch | None] = contextvars.ContextVar("bezel_shared_writes", default=None)


def current() -> WriteBatch | None:
    """The open batch writes go to, if any (tasks started inside a request inherit its batch)."""
    batch = _BATCH.get()
    return None if batch is None or batch.closed else batch


@contextlib.asynccontextmanager
async def deferred_writes() -> AsyncIterator[WriteBatch]:
    """Queue the shared tier's writes made in here (and in the tasks started in here) until `flush`, or
    the end."""
    batch = WriteBatch()
    token = _BATCH.set(batch)
    try:
        yield batch
    finally:
        _BATCH.reset(token)
        batch.closed = True
        await batch.flush()


def script_calls(writes: Sequence[Write], *, cluster: bool) -> list[tuple[list[str], list[Any]]]:
    """The (keys, args) of each WRITE_OPS call that sends `writes`: one, or one per hash slot on a
    cluster (in order within a slot: an entry before the release of its lease, which shares its slot)."""
    groups: dict[int, tuple[list[str], list[Any]]] = {}
    for write in writes:
        if write.unless is not None and write.unless():
            continue
        for op in write.ops:
            name, key, *args = op
            keys, argv = groups.setdefault(key_slot(key.encode()) if cluster else 0, ([], []))
            keys.append(key)
            argv += [name, *args]
    return list(groups.values())
