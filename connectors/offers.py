"""When each SKU was last offered to a shopper: what tells a ghost offer from an honest sell-out.

A ghost offer is the shopper's worst case: a page showed a piece available, and checkout refused it
OUT_OF_STOCK. Every page that shows a SKU available notes it here (in-process at once, and in the
shared tier at most once a second per SKU and process, in the background); when checkout refuses a
SKU out of stock, an offer of it within `window_s`, on any process, counts as a ghost offer. A ghost
offer that is only a race (two shoppers, one piece, the page a second before the sale) counts too:
the indicator is what shoppers lived through, not whose fault it was.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping

from cachetools import TTLCache
from redis.typing import EncodableT, FieldT

from connectors.redisclient import AnyRedis, SharedRedis
from connectors.telemetry import Counter, series_of

MAX_TRACKED = 100_000  # SKUs remembered per process
SHARE_EVERY_S = 1.0  # a SKU's offer reaches the shared tier at most this often per process
GHOST_OFFERS = Counter(
    "bezel.ghost_offers",
    description="Checkout refused a SKU OUT_OF_STOCK that a page had shown available within the ghost-offer "
                "window ([events] ghost_window_s): the inventory mismatch a shopper lives through.",
    series=series_of())


class OfferLog:
    def __init__(self, redis: SharedRedis | None, *, window_s: float) -> None:
        self.redis = redis
        self.window_s = window_s
        self._last: TTLCache[str, float] = TTLCache(MAX_TRACKED, ttl=window_s)
        self._shared_at: TTLCache[str, float] = TTLCache(MAX_TRACKED, ttl=SHARE_EVERY_S)
        self._writes: set[asyncio.Task[None]] = set()

    @property
    def key(self) -> str:
        assert self.redis is not None
        return self.redis.key("offered")

    def offered(self, skus: Iterable[str]) -> None:
        """These SKUs were just shown available (no I/O on the page's path)."""
        now = time.time()
        due = []
        for sku in skus:
            self._last[sku] = now
            if self.redis is not None and sku not in self._shared_at:
                self._shared_at[sku] = now
                due.append(sku)
        if due:
            task = asyncio.ensure_future(self._share(dict.fromkeys(due, repr(now))))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _share(self, offers: Mapping[FieldT, EncodableT]) -> None:
        assert self.redis is not None
        key, keep_ms = self.key, int(self.window_s * 1000)

        async def write(r: AnyRedis) -> None:
            await r.hset(key, mapping=offers)
            await r.pexpire(key, keep_ms)

        await self.redis.call(write, None)

    async def count_ghosts(self, skus: Iterable[str]) -> int:
        """Checkout refused these SKUs OUT_OF_STOCK: how many a page offered within the window (counted)."""
        skus = list(skus)
        if not skus:
            return 0
        last = {sku: self._last.get(sku, 0.0) for sku in skus}
        if self.redis is not None:
            key = self.key
            shared = await self.redis.call(lambda r: r.hmget(key, skus), None) or []
            for sku, raw in zip(skus, shared, strict=False):
                if raw is not None:
                    last[sku] = max(last[sku], float(raw))
        horizon = time.time() - self.window_s
        ghosts = sum(1 for at in last.values() if at >= horizon)
        if ghosts:
            GHOST_OFFERS.add(ghosts)
        return ghosts
