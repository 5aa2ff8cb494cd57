"""Checkout's system of record in Redis: idempotency records, available-to-promise counters,
reservations, orders with their downstream sync state, and the order stream.

Every key shares the `{checkout}` hash tag: the scripts that must be atomic (reserve all lines;
write the order, its stream entry and its idempotency result together) touch several keys, and on a
Redis Cluster those must live in one slot. Checkout traffic of a high-ticket store (orders per second,
not thousands) fits one node comfortably; the page cache's keys spread freely.

Unlike the page cache, this store does not degrade: if Redis fails, checkout is unavailable
(`CheckoutUnavailable`), and nothing is charged or half-written.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import TypeAdapter
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError, ResponseError

from connectors.checkout import lua
from connectors.models import DownstreamState, Order, SyncStatus

T = TypeVar("T")
TAG = "{checkout}"
_ORDER = TypeAdapter(Order)


class CheckoutUnavailable(Exception):
    """Redis cannot be used for checkout right now (down, slow, or not configured)."""


@dataclass(frozen=True)
class Reservation:
    ok: bool
    short: dict[str, int]  # sku -> units still available, for the lines that cannot be filled
    missing: tuple[str, ...] = ()  # skus with no counter yet (never seeded)
    existed: bool = False


@dataclass(frozen=True)
class Claim:
    """What `begin` found under an idempotency key."""

    state: str  # "new", "in_flight", "done"
    fingerprint: str | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class Reconciled:
    before: int | None  # the counter before; None if the SKU was not seeded
    after: int
    skipped: bool  # a hold was committed to the vendor meanwhile: left for the next round


@dataclass(frozen=True)
class StreamEntry:
    id: str
    fields: dict[str, str]
    deliveries: int = 1


class CheckoutStore:
    def __init__(self, url: str, *, timeout_ms: int = 1000, key_prefix: str = "bezel", max_connections: int = 64,
                 stream_max_len: int = 1_000_000) -> None:
        self.timeout_s = timeout_ms / 1000
        # No socket timeout: every call is bounded by `_do`'s asyncio timeout instead, which also lets a
        # blocking stream read wait longer than an ordinary command.
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=self.timeout_s,
                                               socket_connect_timeout=self.timeout_s)
        self.redis = Redis(connection_pool=pool, decode_responses=False)
        self.prefix = f"{key_prefix}:{TAG}"
        self.stream = f"{self.prefix}:orders"
        self.dead_letters = f"{self.prefix}:orders:dead"
        self.stream_max_len = stream_max_len
        self._atp = f"{self.prefix}:atp"
        self._reservations = f"{self.prefix}:reservations"
        self._expiry = f"{self.prefix}:reservations:expiry"
        self._commits = f"{self.prefix}:commits"  # per SKU: units handed over to the ERP's books, ever
        self._reserve = self.redis.register_script(lua.RESERVE)
        self._release = self.redis.register_script(lua.RELEASE)
        self._reclaim = self.redis.register_script(lua.RECLAIM)
        self._confirm = self.redis.register_script(lua.CONFIRM)
        self._commit = self.redis.register_script(lua.COMMIT)
        self._reconcile = self.redis.register_script(lua.RECONCILE)
        self._begin = self.redis.register_script(lua.BEGIN)
        self._abandon = self.redis.register_script(lua.ABANDON)

    async def _do(self, operation: Callable[[], Awaitable[T]], *, extra_s: float = 0.0) -> T:
        try:
            async with asyncio.timeout(self.timeout_s + extra_s):
                return await operation()
        except (RedisError, OSError, TimeoutError) as exc:
            raise CheckoutUnavailable(f"checkout store: {type(exc).__name__}: {exc}") from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._do(self.redis.ping))
        except CheckoutUnavailable:
            return False

    async def aclose(self) -> None:
        await self.redis.aclose()

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # ------------------------------------------------------------------ idempotency

    def _idem_key(self, key_digest: str) -> str:
        return self._key("idem", key_digest)

    async def begin(self, key_digest: str, fingerprint: str, *, attempt: str, in_flight_ttl_s: float) -> Claim:
        """Claim an idempotency key for a new request (as `attempt`), or learn what it already holds."""
        record = json.dumps({"state": "in_flight", "fp": fingerprint, "attempt": attempt, "at": time.time()})
        found = await self._do(lambda: self._begin(keys=[self._idem_key(key_digest)],
                                                   args=[record, int(in_flight_ttl_s * 1000)]))
        if not found:
            return Claim("new", fingerprint)
        doc = json.loads(found)
        return Claim(doc["state"], doc.get("fp"), doc.get("result"))

    async def finish(self, key_digest: str, fingerprint: str, result: dict[str, Any], *, ttl_s: float) -> None:
        """Store a final result to replay (failures after execution started are results too)."""
        record = json.dumps({"state": "done", "fp": fingerprint, "result": result, "at": time.time()})
        await self._do(lambda: self.redis.set(self._idem_key(key_digest), record, px=int(ttl_s * 1000)))

    async def abandon(self, key_digest: str, attempt: str) -> None:
        """Free the key after a transient failure so the client may retry with it, if it is still this
        attempt's in-flight claim (never a stored result or a newer request's claim)."""
        await self._do(lambda: self._abandon(keys=[self._idem_key(key_digest)], args=[attempt]))

    def done_record(self, fingerprint: str, result: dict[str, Any]) -> str:
        return json.dumps({"state": "done", "fp": fingerprint, "result": result, "at": time.time()})

    # ------------------------------------------------------------------ stock

    @property
    def _stock_keys(self) -> list[str]:
        return [self._atp, self._reservations, self._expiry]

    async def reserve(self, reservation_id: str, lines: Sequence[tuple[str, int]], *, ttl_s: float,
                      reclaim_limit: int = 100) -> Reservation:
        args: list[Any] = [reservation_id, int(ttl_s * 1000), reclaim_limit, len(lines)]
        for sku, quantity in lines:
            args += [sku, quantity]
        reply = await self._do(lambda: self._reserve(keys=self._stock_keys, args=args))
        kind, rest = reply[0].decode(), [r.decode() if isinstance(r, bytes) else r for r in reply[1:]]
        if kind == "ok":
            return Reservation(ok=True, short={})
        if kind == "exists":
            return Reservation(ok=True, short={}, existed=True)
        if kind == "missing":
            return Reservation(ok=False, short={}, missing=tuple(rest))
        return Reservation(ok=False, short={rest[i]: int(rest[i + 1]) for i in range(0, len(rest), 2)})

    async def release(self, reservation_id: str) -> bool:
        return bool(await self._do(lambda: self._release(keys=self._stock_keys, args=[reservation_id])))

    async def commit(self, reservation_id: str) -> bool:
        """The ERP has the sales order: the hold becomes the ERP's own deduction (once)."""
        return bool(await self._do(lambda: self._commit(keys=[self._reservations, self._expiry, self._commits],
                                                        args=[reservation_id])))

    async def reclaim_expired(self, limit: int = 500) -> int:
        return int(await self._do(lambda: self._reclaim(keys=self._stock_keys, args=[limit])))

    async def available(self, skus: Sequence[str]) -> dict[str, int | None]:
        values = await self._do(lambda: self.redis.hmget(self._atp, list(skus)))
        return {sku: int(v) if v is not None else None for sku, v in zip(skus, values, strict=True)}

    async def commit_marks(self, skus: Sequence[str]) -> dict[str, int]:
        """Each SKU's commit counter. Read it before asking the vendor, and pass it to `reconcile`."""
        values = await self._do(lambda: self.redis.hmget(self._commits, list(skus)))
        return {sku: int(v or 0) for sku, v in zip(skus, values, strict=True)}

    async def reconcile(self, vendor_available: dict[str, int], marks: dict[str, int]) -> dict[str, Reconciled]:
        """Set counters from the vendor's numbers minus Bezel's own outstanding holds.

        `marks` are the commit counters read before the vendor was asked: a SKU committed since then is
        skipped, because the vendor's number may predate that sale."""
        args: list[Any] = [len(vendor_available)]
        for sku, units in vendor_available.items():
            args += [sku, units, marks.get(sku, 0)]
        reply = await self._do(lambda: self._reconcile(keys=[self._atp, self._reservations, self._commits],
                                                       args=args))
        out = {}
        for i in range(0, len(reply), 4):
            before = int(reply[i + 1])
            out[reply[i].decode()] = Reconciled(None if before == -1 else before, int(reply[i + 2]),
                                                bool(int(reply[i + 3])))
        return out

    async def reservation_lines(self, reservation_id: str) -> list[tuple[str, int]] | None:
        doc = await self._do(lambda: self.redis.hget(self._reservations, reservation_id))
        return [(sku, qty) for sku, qty in json.loads(doc)["lines"]] if doc else None

    # ------------------------------------------------------------------ orders

    async def confirm(self, order: Order, *, token_hash: str, key_digest: str, idempotency_record: str,
                      idempotency_ttl_s: float, retention_s: float, traceparent: str = "") -> bool:
        """Write the order, its sync states, the idempotency result and the stream entry in one step.

        False if the reservation is gone (expired and reclaimed): nothing was written."""
        doc = json.dumps({"token": token_hash, "order": json.loads(_ORDER.dump_json(order))})
        pending = DownstreamState(system="", status=SyncStatus.PENDING, attempts=0)
        args: list[Any] = [order.reservation_id, order.id, doc, int(retention_s * 1000), idempotency_record,
                           int(idempotency_ttl_s * 1000), traceparent, int(order.created_at * 1000),
                           self.stream_max_len, len(order.downstream_systems)]
        for system in order.downstream_systems:
            args += [system, _state_json(pending)]
        keys = [self._reservations, self._expiry, self._key("order", order.id), self._key("sync", order.id),
                self._idem_key(key_digest), self.stream]
        return bool(await self._do(lambda: self._confirm(keys=keys, args=args)))

    async def order(self, order_id: str) -> tuple[Order, str] | None:
        """The order and its token's hash, or None."""
        raw = await self._do(lambda: self.redis.get(self._key("order", order_id)))
        if raw is None:
            return None
        doc = json.loads(raw)
        return _ORDER.validate_python(doc["order"]), doc["token"]

    async def sync_states(self, order_id: str) -> dict[str, DownstreamState]:
        raw = await self._do(lambda: self.redis.hgetall(self._key("sync", order_id)))
        return {k.decode(): _state_from(k.decode(), v) for k, v in raw.items()}

    async def set_sync(self, order_id: str, state: DownstreamState) -> None:
        key = self._key("sync", order_id)
        await self._do(lambda: self.redis.hset(key, state.system, _state_json(state)))

    # ------------------------------------------------------------------ the order stream

    async def ensure_group(self, group: str) -> None:
        """Create the consumer group (from the stream's start, so no order placed before it is missed)."""
        async def create() -> None:
            try:
                await self.redis.xgroup_create(self.stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):  # the group exists already: fine
                    raise

        await self._do(create)

    async def read_new(self, group: str, consumer: str, *, count: int, block_ms: int | None) -> list[StreamEntry]:
        """Entries never delivered to this group; waits up to `block_ms` for one (None: do not wait)."""
        reply = await self._do(
            lambda: self.redis.xreadgroup(group, consumer, {self.stream: ">"}, count=count, block=block_ms),
            extra_s=(block_ms or 0) / 1000,
        )
        return [StreamEntry(_s(entry_id), _fields(fields))
                for _, entries in reply or [] for entry_id, fields in entries]

    async def claim_due(self, group: str, consumer: str, *, min_idle_ms: int,
                        due: Callable[[int, int, str], bool], count: int = 50, scan: int = 1000) -> list[StreamEntry]:
        """Take over pending entries whose wait is over: our own failed ones after their backoff, a crashed
        consumer's once idle long enough. `due(idle_ms, deliveries, owner)` decides per entry; up to
        `scan` pending entries are looked at, so entries in a long backoff do not hide due ones."""
        pending = await self._do(lambda: self.redis.xpending_range(self.stream, group, min="-", max="+", count=scan,
                                                                   idle=min_idle_ms))
        ready = [p for p in pending
                 if due(int(p["time_since_delivered"]), int(p["times_delivered"]), _s(p["consumer"]))][:count]
        if not ready:
            return []
        ids = [p["message_id"] for p in ready]
        deliveries = {_s(p["message_id"]): int(p["times_delivered"]) + 1 for p in ready}
        claimed = await self._do(lambda: self.redis.xclaim(self.stream, group, consumer, min_idle_ms, ids))
        return [StreamEntry(_s(entry_id), _fields(fields), deliveries.get(_s(entry_id), 1))
                for entry_id, fields in claimed if fields is not None]

    async def ack(self, group: str, entry_id: str) -> None:
        await self._do(lambda: self.redis.xack(self.stream, group, entry_id))

    async def dead_letter(self, group: str, entry: StreamEntry, reason: str) -> None:
        """Move an entry that keeps failing to the dead-letter stream, then acknowledge it."""
        fields = {**entry.fields, "group": group, "entry_id": entry.id, "deliveries": str(entry.deliveries),
                  "reason": reason[:500]}

        async def move() -> None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xadd(self.dead_letters, fields)
                pipe.xack(self.stream, group, entry.id)
                await pipe.execute()

        await self._do(move)

    async def group_lag(self, group: str) -> tuple[int, int]:
        """(pending: delivered but not acknowledged, lag: not yet delivered) for a consumer group."""
        groups = await self._do(lambda: self.redis.xinfo_groups(self.stream))
        for g in groups:
            if _s(g["name"]) == group:
                return int(g.get("pending") or 0), int(g.get("lag") or 0)
        return 0, 0

    async def dead_letter_count(self) -> int:
        return int(await self._do(lambda: self.redis.xlen(self.dead_letters)))


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(fields: dict[Any, Any]) -> dict[str, str]:
    return {_s(k): _s(v) for k, v in fields.items()}


def _state_json(state: DownstreamState) -> str:
    return json.dumps({"status": state.status.value, "attempts": state.attempts, "last_error": state.last_error,
                       "updated_at": state.updated_at})


def _state_from(system: str, raw: bytes) -> DownstreamState:
    doc = json.loads(raw)
    return DownstreamState(system=system, status=SyncStatus(doc["status"]), attempts=int(doc["attempts"]),
                           last_error=doc.get("last_error"), updated_at=doc.get("updated_at"))
