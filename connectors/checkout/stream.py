"""The order stream: one consumer group per downstream system, reclaiming, and a dead-letter stream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from connectors.checkout.connection import CheckoutRedis, text


@dataclass(frozen=True)
class StreamEntry:
    id: str
    fields: dict[str, str]
    deliveries: int = 1


class OrderStream:
    def __init__(self, redis: CheckoutRedis) -> None:
        self.redis = redis
        self.name = redis.keys.stream
        self.dead_letters = redis.keys.dead_letters

    async def ensure_group(self, group: str) -> None:
        """Create the consumer group (from the stream's start, so no order placed before it is missed)."""
        async def create() -> None:
            try:
                await self.redis.client.xgroup_create(self.name, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):  # the group exists already: fine
                    raise

        await self.redis.do(create)

    async def read_new(self, group: str, consumer: str, *, count: int, block_ms: int | None) -> list[StreamEntry]:
        """Entries never delivered to this group; waits up to `block_ms` for one (None: do not wait)."""
        reply = await self.redis.do(
            lambda: self.redis.client.xreadgroup(group, consumer, {self.name: ">"}, count=count, block=block_ms),
            extra_s=(block_ms or 0) / 1000,
        )
        return [StreamEntry(text(entry_id), _fields(fields))
                for _, entries in reply or [] for entry_id, fields in entries]

    async def claim_due(self, group: str, consumer: str, *, min_idle_ms: int,
                        due: Callable[[int, int, str], bool], count: int = 50, scan: int = 1000) -> list[StreamEntry]:
        """Take over pending entries whose wait is over: our own failed ones after their backoff, a crashed
        consumer's once idle long enough. `due(idle_ms, deliveries, owner)` decides per entry; up to
        `scan` pending entries are looked at, so entries in a long backoff do not hide due ones."""
        client = self.redis.client
        pending = await self.redis.do(lambda: client.xpending_range(self.name, group, min="-", max="+", count=scan,
                                                                    idle=min_idle_ms))
        ready = [p for p in pending
                 if due(int(p["time_since_delivered"]), int(p["times_delivered"]), text(p["consumer"]))][:count]
        if not ready:
            return []
        ids = [p["message_id"] for p in ready]
        deliveries = {text(p["message_id"]): int(p["times_delivered"]) + 1 for p in ready}
        claimed = await self.redis.do(lambda: client.xclaim(self.name, group, consumer, min_idle_ms, ids))
        return [StreamEntry(text(entry_id), _fields(fields), deliveries.get(text(entry_id), 1))
                for entry_id, fields in claimed if fields is not None]

    async def ack(self, group: str, entry_id: str) -> None:
        await self.redis.do(lambda: self.redis.client.xack(self.name, group, entry_id))

    async def dead_letter(self, group: str, entry: StreamEntry, reason: str) -> None:
        """Move an entry that keeps failing to the dead-letter stream, then acknowledge it."""
        fields = {**entry.fields, "group": group, "entry_id": entry.id, "deliveries": str(entry.deliveries),
                  "reason": reason[:500]}

        async def move() -> None:
            async with self.redis.client.pipeline(transaction=True) as pipe:
                pipe.xadd(self.dead_letters, fields)
                pipe.xack(self.name, group, entry.id)
                await pipe.execute()

        await self.redis.do(move)

    async def group_lag(self, group: str) -> tuple[int, int]:
        """(pending: delivered but not acknowledged, lag: not yet delivered) for a consumer group."""
        groups = await self.redis.do(lambda: self.redis.client.xinfo_groups(self.name))
        for g in groups:
            if text(g["name"]) == group:
                return int(g.get("pending") or 0), int(g.get("lag") or 0)
        return 0, 0

    async def dead_letter_count(self) -> int:
        return int(await self.redis.do(lambda: self.redis.client.xlen(self.dead_letters)))


def _fields(fields: dict[Any, Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in fields.items()}
