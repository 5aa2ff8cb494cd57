"""Available-to-promise counters and reservations: all lines or none, each hold returned exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.checkout import lua
from connectors.checkout.connection import CheckoutRedis
from connectors.errors import CheckoutUnavailable
from connectors.redisclient import SharedRedis, text


@dataclass(frozen=True)
class Reservation:
    ok: bool
    short: dict[str, int]  # sku -> units still available, for the lines that cannot be filled
    missing: tuple[str, ...] = ()  # skus with no counter yet (never seeded)


@dataclass(frozen=True)
class Reconciled:
    before: int | None  # the counter before; None if the SKU was not seeded
    after: int
    skipped: bool  # a hold was committed to the vendor meanwhile: left for the next round


class StockCounters:
    def __init__(self, redis: CheckoutRedis) -> None:
        self.redis = redis
        keys = redis.keys
        self._holds = [keys.atp, keys.reservations, keys.expiry]
        self._reserve = redis.script(lua.RESERVE)
        self._release = redis.script(lua.RELEASE)
        self._reclaim = redis.script(lua.RECLAIM)
        self._commit = redis.script(lua.COMMIT)
        self._reconcile = redis.script(lua.RECONCILE)
        self._available = redis.script(lua.AVAILABLE)
        self._lower = redis.script(lua.LOWER)
        self._shared: SharedRedis | None = None

    async def reserve(self, reservation_id: str, lines: Sequence[tuple[str, int]], *, ttl_s: float,
                      reclaim_limit: int = 100) -> Reservation:
        args: list[Any] = [reservation_id, int(ttl_s * 1000), reclaim_limit, len(lines)]
        for sku, quantity in lines:
            args += [sku, quantity]
        reply = await self.redis.do(lambda: self._reserve(keys=self._holds, args=args))
        kind, rest = text(reply[0]), [r.decode() if isinstance(r, bytes) else r for r in reply[1:]]
        if kind == "ok":
            return Reservation(ok=True, short={})
        if kind == "exists":  # the same reservation again (a retry): held once
            return Reservation(ok=True, short={})
        if kind == "missing":
            return Reservation(ok=False, short={}, missing=tuple(rest))
        return Reservation(ok=False, short={rest[i]: int(rest[i + 1]) for i in range(0, len(rest), 2)})

    async def release(self, reservation_id: str) -> bool:
        return bool(await self.redis.do(lambda: self._release(keys=self._holds, args=[reservation_id])))

    async def commit(self, reservation_id: str) -> bool:
        """The ERP has the sales order: the hold becomes the ERP's own deduction (once)."""
        keys = self.redis.keys
        return bool(await self.redis.do(lambda: self._commit(keys=[keys.reservations, keys.expiry, keys.commits],
                                                             args=[reservation_id])))

    async def reclaim_expired(self, limit: int = 500) -> int:
        return int(await self.redis.do(lambda: self._reclaim(keys=self._holds, args=[limit])))

    def read_with(self, shared: SharedRedis) -> None:
        """Read counters for pages (`for_page`) through the page cache's tier, which is the same Redis: in
        the same round trip as the page's cache reads (`SharedRedis.together`), not one of their own."""
        self._shared = shared

    async def available(self, skus: Sequence[str], *, timeout_s: float | None = None) -> dict[str, int | None]:
        """Each SKU's counter now, expired holds given back first (None: never seeded): what checkout would
        sell now. A reading, not a hold: `reserve` decides."""
        args = [len(skus), *skus]
        values = await self.redis.do(lambda: self._available(keys=self._holds, args=args), timeout_s=timeout_s)
        return _levels(skus, values)

    async def for_page(self, skus: Sequence[str], *, timeout_s: float) -> dict[str, int | None]:
        """`available` for a page, within `timeout_s`: with the page's cache reads when they share a Redis
        (`read_with`), where a Redis that does not answer is skipped a moment, as the cache is."""
        if self._shared is None:
            return await self.available(skus, timeout_s=timeout_s)
        values = await self._shared.together(self._available, self._holds, [len(skus), *skus], None)
        if values is None:
            raise CheckoutUnavailable(detail="checkout store: the shared tier's Redis did not answer")
        return _levels(skus, values)

    async def lower(self, erp_available: dict[str, int]) -> dict[str, tuple[int, int]]:
        """Lower counters to what the ERP says it has less what Bezel still holds (an event from the ERP:
        a sale in a shop). Never raised: the ERP's number may predate a sale Bezel has since handed it,
        so only the periodic reconcile, which knows, raises a counter. {sku: (before, after)} of those
        lowered; SKUs never seeded are left for their first checkout."""
        args: list[Any] = [len(erp_available)]
        for sku, units in erp_available.items():
            args += [sku, units]
        keys = self.redis.keys
        reply = await self.redis.do(lambda: self._lower(keys=[keys.atp, keys.reservations], args=args))
        return {text(reply[i]): (int(reply[i + 1]), int(reply[i + 2])) for i in range(0, len(reply), 3)}

    async def commit_marks(self, skus: Sequence[str]) -> dict[str, int]:
        """Each SKU's commit counter. Read it before asking the vendor, and pass it to `reconcile`."""
        values = await self.redis.do(lambda: self.redis.client.hmget(self.redis.keys.commits, list(skus)))
        return {sku: int(v or 0) for sku, v in zip(skus, values, strict=True)}

    async def reconcile(self, vendor_available: dict[str, int], marks: dict[str, int]) -> dict[str, Reconciled]:
        """Set counters from the vendor's numbers minus Bezel's own outstanding holds.

        `marks` are the commit counters read before the vendor was asked: a SKU committed since then is
        skipped, because the vendor's number may predate that sale."""
        args: list[Any] = [len(vendor_available)]
        for sku, units in vendor_available.items():
            args += [sku, units, marks.get(sku, 0)]
        keys = self.redis.keys
        reply = await self.redis.do(lambda: self._reconcile(keys=[keys.atp, keys.reservations, keys.commits],
                                                            args=args))
        out = {}
        for i in range(0, len(reply), 4):
            before = int(reply[i + 1])
            out[text(reply[i])] = Reconciled(None if before == -1 else before, int(reply[i + 2]),
                                             bool(int(reply[i + 3])))
        return out


def _levels(skus: Sequence[str], values: Sequence[Any]) -> dict[str, int | None]:
    return {sku: int(v) if v is not None else None for sku, v in zip(skus, values, strict=True)}
