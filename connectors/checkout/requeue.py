"""Putting back on the order stream what a system is owed, from the orders themselves.

Redis can lose the order stream while the orders stay: the key deleted, a consumer group destroyed, a
restore or failover without them. The stream then no longer says what each system is still to get; the
orders' sync states still do. So the orders some system is owed are indexed (`Keys.owed`, kept by the
scripts that write the states: CONFIRM (order_records) adds, SET_SYNC removes once every system is settled, REDRIVE adds
back), and `OwedOrders.requeue` gives each one a system is owed and has no entry for a new entry naming
that system (`lua.REQUEUE`): once, however many workers do it at the same time.

Its cost follows the backlog, not the store: the owed index (orders in flight, plus those a down system
has not got yet), and the stream from the oldest owed order's entry on (no entry of an owed order is older).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from connectors.checkout import lua
from connectors.checkout.connection import CheckoutRedis
from connectors.checkout.stream import StreamEntry
from connectors.redisclient import text

BATCH = 200  # orders per REQUEUE step: each step reads only what the stream gained since the last one
PAGE = 1_000  # stream entries per read


@dataclass(frozen=True)
class Requeued:
    """What one `OwedOrders.requeue` did for one system."""

    system: str
    order_ids: tuple[str, ...]  # put back on the stream for the system, oldest first
    owed: int  # orders in the owed index when it started (owed to any system)
    dropped: int  # left the index: settled everywhere, or their records gone (past retention)
    scanned: int  # stream entries read


class OwedOrders:
    """The orders some downstream system is still to get, and how to queue them again."""

    def __init__(self, redis: CheckoutRedis) -> None:
        self.redis = redis
        self._requeue = redis.script(lua.REQUEUE)

    async def members(self) -> dict[str, float]:
        """Every owed order id, with its score (the ms of its first stream entry). ZSCAN, a page at a time:
        an order owed throughout is returned, whatever confirms and syncs happen meanwhile."""
        client, key = self.redis.client, self.redis.keys.owed
        found: dict[str, float] = {}
        cursor = 0
        while True:
            cursor, page = await self.redis.do(partial(client.zscan, key, cursor, count=PAGE))
            found.update({text(member): float(score) for member, score in page})
            if not cursor:
                return found

    async def requeue(self, system: str, *, traceparent: str = "") -> Requeued:
        """Give every order owed to `system` that has no entry for it in the stream a new entry naming it.

        Safe to run at any time and by many workers at once: an order with an entry (from its checkout, a
        redrive, or another worker's requeue) gets none. The new entries carry `traceparent`."""
        owed = await self.members()
        if not owed:
            return Requeued(system, (), 0, 0, 0)
        known: set[str] = set()  # owed orders with an entry for `system` in the stream
        start = f"{int(min(owed.values()))}-0"
        start, scanned = await self._read(start, system, owed, known)
        candidates = sorted((o for o in owed if o not in known), key=lambda o: (owed[o], o))
        requeued: list[str] = []
        dropped = 0
        for i in range(0, len(candidates), BATCH):
            batch = [order for order in candidates[i:i + BATCH] if order not in known]
            if not batch:
                continue
            reply = await self._step(system, start, traceparent, batch)
            dropped += int(reply[0])
            requeued += [text(order) for order in reply[1:]]
            start, read = await self._read(start, system, owed, known)  # ours, and anyone else's, since
            scanned += read
        return Requeued(system, tuple(requeued), len(owed), dropped, scanned)

    async def _step(self, system: str, start: str, traceparent: str, batch: list[str]) -> list[Any]:
        keys = self.redis.keys
        script_keys = [keys.stream, keys.owed]
        for order in batch:
            script_keys += [keys.key("order", order), keys.key("sync", order)]
        args = [system, start, traceparent, *batch]
        return list(await self.redis.do(lambda: self._requeue(keys=script_keys, args=args)))

    async def _read(self, start: str, system: str, owed: dict[str, float], known: set[str]) -> tuple[str, int]:
        """Read the stream from `start` (an XRANGE start) to its end, adding to `known` the owed orders with
        an entry for `system`. Returns where the next read starts (just past the last entry) and how many
        entries were read."""
        read = 0
        while True:
            page = await self.redis.do(partial(self._page, start))
            for raw_id, raw in page:
                entry = StreamEntry(text(raw_id), {text(k): text(v) for k, v in raw.items()})
                order = entry.fields.get("order_id", "")
                if order in owed and entry.is_for(system):
                    known.add(order)
            read += len(page)
            if page:
                start = f"({text(page[-1][0])}"
            if len(page) < PAGE:
                return start, read

    async def _page(self, start: str) -> list[Any]:
        return list(await self.redis.client.xrange(self.redis.keys.stream, min=start, max="+", count=PAGE) or [])
