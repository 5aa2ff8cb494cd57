"""The order stream: one consumer group per downstream system, reclaiming, and a dead-letter stream.

Every group reads every entry. An entry written at checkout is for every system the order names; one
written by `bezel orders redrive` carries a `system` field and is for that system only (the other groups
acknowledge it without calling anything); so does one put back by a worker whose group was lost
(`connectors.checkout.requeue`).

A group's commands fail with `GroupMissing` when Redis no longer has the group: the stream deleted (a
restart or failover without it; a blocked read is then woken with UNBLOCKED) or the group destroyed. The
next entry added recreates the stream but not its groups, so that failure does not end by itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, cast

from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from connectors.checkout.connection import CheckoutRedis
from connectors.errors import CheckoutUnavailable
from connectors.redisclient import text

T = TypeVar("T")
# An entry as redis-py gives it: its id and its fields (None for an entry deleted while still pending);
# bytes, as no client of ours decodes responses, but typed by redis-py as either.
RawEntry = tuple[bytes | str | None, dict[bytes | str, bytes | str] | None]
TARGET = "system"  # the field naming the one system an entry is for (lua.REDRIVE and lua.REQUEUE write it)
# How Redis says a group is gone: NOGROUP (no such key or group; a blocked read whose group was destroyed),
# UNBLOCKED (a blocked read whose stream was deleted).
_GROUP_GONE = ("NOGROUP", "UNBLOCKED the stream key no longer exists")


class GroupMissing(CheckoutUnavailable):
    """Redis no longer has this consumer group (or the stream): it must be recreated and what the group
    was to deliver put back, or the group's worker fails on every read from now on."""

    def __init__(self, group: str, detail: str) -> None:
        super().__init__(detail=f"order stream: consumer group {group} is gone ({detail})")
        self.group = group


@dataclass(frozen=True)
class StreamEntry:
    id: str
    fields: dict[str, str]
    deliveries: int = 1

    def is_for(self, group: str) -> bool:
        """Whether this group's system should sync the entry (all do, unless the entry names one)."""
        return _is_for(self.fields, group)


@dataclass(frozen=True)
class DeadLetter:
    """An entry a consumer group gave up on, as the dead-letter stream holds it (order ids only)."""

    id: str  # in the dead-letter stream
    order_id: str  # "" for an entry that had none (poison)
    system: str  # the consumer group that gave up
    reason: str
    deliveries: int
    at: float  # when it was dead-lettered (epoch seconds, Redis's clock: from its id)
    entry_id: str  # the order-stream entry it was
    traceparent: str = ""


@dataclass(frozen=True)
class QueuedEntry:
    """An order's entry that a consumer group has not acknowledged yet."""

    id: str
    delivered: bool  # True: read by a consumer, being synced or waiting for its retry; False: not read yet
    deliveries: int = 0
    idle_ms: int | None = None
    consumer: str | None = None


@dataclass(frozen=True)
class OrderQueue:
    """Where one order's entries stand in each consumer group."""

    entries: dict[str, list[QueuedEntry]]  # group -> its unacknowledged entries for the order (usually none)
    missing_groups: list[str]  # groups that do not exist yet (no worker has run for them)
    complete: bool  # False if a pending list or the backlog was longer than what was looked at


class OrderStream:
    def __init__(self, redis: CheckoutRedis) -> None:
        self.redis = redis
        self.name = redis.keys.stream
        self.dead_name = redis.keys.dead_letters

    async def ensure_group(self, group: str) -> bool:
        """Create the consumer group (from the stream's start, so no order placed before it is missed).
        True if it was created, False if it existed."""
        async def create() -> bool:
            try:
                await self.redis.client.xgroup_create(self.name, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):  # the group exists already: fine
                    raise
                return False
            return True

        return await self.redis.do(create)

    async def _in_group(self, group: str, operation: Callable[[], Awaitable[T]], *, extra_s: float = 0.0) -> T:
        """`redis.do` for a command on `group`, raising `GroupMissing` when Redis says the group is gone."""
        try:
            return await self.redis.do(operation, extra_s=extra_s)
        except CheckoutUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, ResponseError) and str(cause).startswith(_GROUP_GONE):
                raise GroupMissing(group, str(cause)) from cause
            raise

    async def read_new(self, group: str, consumer: str, *, count: int, block_ms: int | None) -> list[StreamEntry]:
        """Entries never delivered to this group; waits up to `block_ms` for one (None: do not wait)."""
        # A list of [stream, entries] pairs (RESP2, what our clients speak), None when nothing came.
        reply = cast(list[tuple[bytes, list[RawEntry]]] | None, await self._in_group(
            group,
            lambda: self.redis.client.xreadgroup(group, consumer, {self.name: ">"}, count=count, block=block_ms),
            extra_s=(block_ms or 0) / 1000,
        ))
        return [StreamEntry(text(entry_id), _fields(fields))
                for _, entries in reply or [] for entry_id, fields in entries]

    async def claim_due(self, group: str, consumer: str, *, min_idle_ms: int,
                        due: Callable[[int, int, str], bool], count: int = 50, scan: int = 1000) -> list[StreamEntry]:
        """Take over pending entries whose wait is over: our own failed ones after their backoff, a crashed
        consumer's once idle long enough. `due(idle_ms, deliveries, owner)` decides per entry; up to
        `scan` pending entries are looked at, so entries in a long backoff do not hide due ones."""
        client = self.redis.client
        pending = await self._in_group(group, lambda: client.xpending_range(self.name, group, min="-", max="+",
                                                                            count=scan, idle=min_idle_ms))
        ready = [p for p in pending
                 if due(int(p["time_since_delivered"]), int(p["times_delivered"]), text(p["consumer"]))][:count]
        if not ready:
            return []
        ids: list[int | bytes | str | memoryview] = [p["message_id"] for p in ready]
        deliveries = {text(p["message_id"]): int(p["times_delivered"]) + 1 for p in ready}
        # Whole entries (not JUSTID, which would answer ids alone).
        claimed = cast(list[RawEntry], await self._in_group(
            group, lambda: client.xclaim(self.name, group, consumer, min_idle_ms, ids)))
        return [StreamEntry(text(entry_id), _fields(fields), deliveries.get(text(entry_id), 1))
                for entry_id, fields in claimed if fields is not None]

    async def ack(self, group: str, entry_id: str) -> None:
        await self._in_group(group, lambda: self.redis.client.xack(self.name, group, entry_id))

    async def dead_letter(self, group: str, entry: StreamEntry, reason: str) -> None:
        """Move an entry that keeps failing to the dead-letter stream, then acknowledge it."""
        fields: dict[FieldT, EncodableT] = dict(entry.fields.items())
        fields.update({"group": group, "entry_id": entry.id, "deliveries": str(entry.deliveries),
                       "reason": reason[:500]})

        async def move() -> None:
            async with self.redis.client.pipeline(transaction=True) as pipe:
                pipe.xadd(self.dead_name, fields)
                pipe.xack(self.name, group, entry.id)
                await pipe.execute()

        await self._in_group(group, move)

    async def group_lag(self, group: str) -> tuple[int, int]:
        """(pending: delivered but not acknowledged, lag: not yet delivered) for a consumer group; (0, 0)
        before the stream exists (no order placed, no worker started yet): nothing is waiting."""
        async def groups_of_stream() -> Any:
            if not await self.redis.client.exists(self.name):
                return []
            return await self.redis.client.xinfo_groups(self.name)

        groups = await self.redis.do(groups_of_stream)
        for g in groups:
            if text(g["name"]) == group:
                return int(g.get("pending") or 0), int(g.get("lag") or 0)
        return 0, 0

    async def dead_letter_count(self) -> int:
        return int(await self.redis.do(lambda: self.redis.client.xlen(self.dead_name)))

    async def dead_letters(self, *, system: str | None = None, order_ids: Collection[str] | None = None,
                           page: int = 500) -> list[DeadLetter]:
        """Dead letters, newest first: all, or only one system's, or only these orders'. Reads the whole
        dead-letter stream (each entry there waits for an operator; there are few)."""
        client, found, upper = self.redis.client, [], "+"
        while True:
            reply = await self.redis.do(partial(client.xrevrange, self.dead_name, max=upper, min="-", count=page))
            batch = list(reply or [])
            for raw_id, raw in batch:
                letter = _dead_letter(text(raw_id), _fields(raw))
                if (system is None or letter.system == system) and (order_ids is None or letter.order_id in order_ids):
                    found.append(letter)
            if len(batch) < page:
                return found
            upper = f"({text(batch[-1][0])}"

    async def queued(self, order_id: str, groups: Iterable[str], *, scan: int = 10_000) -> OrderQueue:
        """Where `order_id`'s entries stand in each group: delivered and not acknowledged (being synced, or
        waiting for a retry), or not read yet. Looks at up to `scan` pending entries per group and `scan`
        entries of the backlog, so its cost is bounded whatever the stream's length."""
        client, wanted = self.redis.client, [str(g) for g in groups]

        async def info() -> list[dict[Any, Any]]:
            try:
                return list(await client.xinfo_groups(self.name))
            except ResponseError as exc:  # no stream yet: no order was ever placed
                if "no such key" in str(exc).lower():
                    return []
                raise

        last = {text(g["name"]): text(g["last-delivered-id"]) for g in await self.redis.do(info)}
        present = [g for g in wanted if g in last]
        pending: dict[str, list[Any]] = {
            g: await self.redis.do(partial(client.xpending_range, self.name, g, min="-", max="+", count=scan))
            for g in present}
        backlog: dict[str, dict[str, str]] = {}
        if present:
            start = min((last[g] for g in present), key=_id_order)
            read = await self.redis.do(partial(client.xrange, self.name, min=f"({start}", max="+", count=scan))
            backlog = {text(i): _fields(f) for i, f in read or []}
        fields = {**await self._fields_of({text(p["message_id"]) for ps in pending.values() for p in ps}
                                          - backlog.keys()), **backlog}
        entries: dict[str, list[QueuedEntry]] = {g: [] for g in wanted}
        for g in present:
            ours = {i for i, f in fields.items() if f.get("order_id") == order_id and _is_for(f, g)}
            entries[g] += [QueuedEntry(text(p["message_id"]), True, int(p["times_delivered"]),
                                       int(p["time_since_delivered"]), text(p["consumer"]))
                           for p in pending[g] if text(p["message_id"]) in ours]
            entries[g] += [QueuedEntry(i, False) for i in sorted(ours & backlog.keys(), key=_id_order)
                           if _id_order(i) > _id_order(last[g])]
        complete = len(backlog) < scan and all(len(ps) < scan for ps in pending.values())
        return OrderQueue(entries, [g for g in wanted if g not in last], complete)

    async def _fields_of(self, ids: Collection[str]) -> dict[str, dict[str, str]]:
        """The fields of these entries (those still in the stream), in one round trip."""
        if not ids:
            return {}

        async def read() -> list[Any]:
            async with self.redis.client.pipeline(transaction=False) as pipe:
                for entry_id in ids:
                    pipe.xrange(self.name, min=entry_id, max=entry_id)
                return list(await pipe.execute())

        replies: list[list[Any]] = await self.redis.do(read)
        return {text(i): _fields(f) for reply in replies for i, f in reply}


def _fields(fields: dict[bytes | str, bytes | str] | None) -> dict[str, str]:
    return {text(k): text(v) for k, v in (fields or {}).items()}


def _is_for(fields: dict[str, str], group: str) -> bool:
    target = fields.get(TARGET)
    return not target or target == group


def _id_order(entry_id: str) -> tuple[int, int]:
    """A stream id ("ms-seq") as something that sorts like Redis sorts ids."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _dead_letter(letter_id: str, fields: dict[str, str]) -> DeadLetter:
    return DeadLetter(id=letter_id, order_id=fields.get("order_id", ""), system=fields.get("group", ""),
                      reason=fields.get("reason", ""), deliveries=int(fields.get("deliveries") or 0),
                      at=_id_order(letter_id)[0] / 1000, entry_id=fields.get("entry_id", ""),
                      traceparent=fields.get("traceparent", ""))
