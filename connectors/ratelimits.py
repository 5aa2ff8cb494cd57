"""Rate limits shared by every gateway process through Redis, and kept in-process while Redis is down.

Both tiers count the same way, a sliding-window counter (the current fixed window's count plus the
previous one's, weighted by how much of it the sliding window still covers: two numbers per key):

- every use is counted in the process's own memory first (`LocalWindows`, ~3 us), with the same
  limits, so a flood against one process is refused at once, Redis or not (degraded, never off). Ours,
  not the `limits` library's MemoryStorage: that one scans every key it holds on each hit (its expiry
  task), and with a few thousand shoppers that cost 700 us of a 1.4 ms page (measured).
- the shared count in Redis is the `limits` library's (its Redis storage: one Lua script per hit), and
  makes the limits hold across processes. A hit there costs ~125 us of CPU per limit (measured), a
  tenth of a warm page, so a busy budget may send its uses to Redis in batches (`batch`: one shared
  hit of cost N per N local uses); a client over the shared limit is then refused locally until the
  window resets. Rare, costly budgets (checkout, declines) count every use.
- Redis down or slow: `SharedRedis` skips it for a while, and the in-memory count decides meanwhile.

    budgets = RateLimits({"pages": "20/second;600/minute"}, redis=shared, batch={"pages": 10})
    wait = await budgets.hit("pages", client)      # None: go ahead; else seconds until allowed
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cachetools import TTLCache
from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis

from connectors.redisclient import SharedRedis

_UNANSWERED = object()  # Redis down or slow (the shared tier logs it): this process counts alone for now
MAX_TRACKED = 100_000  # clients whose uses wait for their batch, per process (an attacker rotating
#                        addresses only ages the oldest out early: they were counted locally anyway)


class RateLimits:
    def __init__(self, budgets: Mapping[str, str], *, redis: SharedRedis | None = None,
                 batch: Mapping[str, int] | None = None) -> None:
        """`budgets`: name -> the `limits` notation, several joined by `;` ("20/second;600/minute")."""
        self.budgets: dict[str, list[RateLimitItem]] = {name: parse_many(spec) for name, spec in budgets.items()}
        self.batch = dict(batch or {})
        self.redis = redis
        self.shared = None
        if redis is not None:
            self.shared = SlidingWindowCounterRateLimiter(_storage(redis))
        longest = max((i.get_expiry() for items in self.budgets.values() for i in items), default=60)
        self.local = LocalWindows(longest_s=longest)
        self._pending: TTLCache[tuple[str, ...], int] = TTLCache(MAX_TRACKED, ttl=longest)
        self._blocked: TTLCache[tuple[str, ...], float] = TTLCache(MAX_TRACKED, ttl=longest)

    async def hit(self, budget: str, *identity: str) -> float | None:
        """Count one use of `budget` by `identity`: None if within every limit, else the seconds to wait."""
        key = (budget, *identity)
        blocked_until = self._blocked.get(key)
        if blocked_until is not None and blocked_until > time.time():
            return _wait(blocked_until)
        items = self.budgets[budget]
        wait = self.local.ask(items, key, hit=True)
        if wait is not None or self.shared is None:
            return wait
        pending = self._pending.get(key, 0) + 1
        if pending < self.batch.get(budget, 1):
            self._pending[key] = pending
            return None
        self._pending.pop(key, None)
        wait = await self._shared(items, key, hit=True, cost=pending)
        if wait is not None:
            self._blocked[key] = time.time() + wait
        return wait

    async def test(self, budget: str, *identity: str) -> float | None:
        """Whether one more use would be allowed now, without counting it."""
        key = (budget, *identity)
        items = self.budgets[budget]
        wait = self.local.ask(items, key, hit=False)
        if wait is None and self.shared is not None:
            wait = await self._shared(items, key, hit=False, cost=1)
        return wait

    async def _shared(self, items: list[RateLimitItem], key: tuple[str, ...], *, hit: bool, cost: int
                      ) -> float | None:
        assert self.shared is not None
        assert self.redis is not None
        shared = self.shared
        answer = await self.redis.call(lambda _: _ask(shared, items, key, hit=hit, cost=cost), _UNANSWERED)
        return None if answer is _UNANSWERED else answer  # type: ignore[return-value]


async def _ask(limiter: SlidingWindowCounterRateLimiter, items: list[RateLimitItem], key: tuple[str, ...], *,
               hit: bool, cost: int) -> float | None:
    over = []
    for item in items:
        allowed = await (limiter.hit(item, *key, cost=cost) if hit else limiter.test(item, *key, cost=cost))
        if not allowed:
            over.append(item)
    if not over:
        return None
    resets = [(await limiter.get_window_stats(item, *key)).reset_time for item in over]
    return _wait(max(resets))


def _wait(until: float) -> float:
    """Whole seconds to wait (at least one), as a Retry-After header says them."""
    return float(max(1, math.ceil(until - time.time())))


def _storage(redis: SharedRedis) -> RedisStorage:
    """The `limits` library's Redis storage, on the shared tier's own pool (a cluster: its own client, from
    the same URL: the library builds cluster clients itself)."""
    if redis.cluster:
        url = urlsplit(redis.url)
        auth = f"{url.username or ''}:{url.password}@" if url.password else ""
        options = {"ssl": True} if url.scheme == "rediss" else {}
        return RedisClusterStorage(f"async+redis+cluster://{auth}{url.hostname}:{url.port or 6379}",
                                   implementation="redispy", key_prefix=redis.key("limits"),
                                   socket_timeout=redis.timeout_s, socket_connect_timeout=redis.timeout_s, **options)
    assert isinstance(redis.client, Redis)
    # The pool decides where it connects, not the URL; `limits` types its options as scalars, a pool is not.
    pool: dict[str, Any] = {"connection_pool": redis.client.connection_pool}
    return RedisStorage("async+redis://localhost:6379", implementation="redispy", key_prefix=redis.key("limits"),
                        **pool)


class LocalWindows:
    """Sliding-window counters in process memory, for at most `max_keys` clients (least recently seen
    dropped first: an attacker rotating addresses only forgets its own oldest counts)."""

    def __init__(self, *, longest_s: float, max_keys: int = MAX_TRACKED) -> None:
        # (budget, *identity) -> per limit: [window number, previous window's count, this window's count]
        self._counts: TTLCache[tuple[str, ...], list[list[float]]] = TTLCache(max_keys, ttl=2 * longest_s)

    def ask(self, items: list[RateLimitItem], key: tuple[str, ...], *, hit: bool, cost: int = 1,
            now: float | None = None) -> float | None:
        """None if `cost` more uses fit every limit (and, with `hit`, count them); else seconds to wait."""
        now = time.time() if now is None else now
        windows = self._counts.get(key)
        if windows is None:
            windows = [[0.0, 0.0, 0.0] for _ in items]
        wait = 0.0
        for item, window in zip(items, windows, strict=True):
            size = item.get_expiry()
            number = now // size
            if window[0] != number:  # roll over: the last window becomes the previous one, or both are old
                window[1] = window[2] if window[0] == number - 1 else 0.0
                window[2] = 0.0
                window[0] = number
            elapsed = (now - number * size) / size  # of the current window, 0..1
            if window[1] * (1 - elapsed) + window[2] + cost > item.amount:
                wait = max(wait, _until_fits(window[1], window[2], cost, item.amount, size, elapsed))
        if wait:
            return float(max(1, math.ceil(wait)))
        if hit:
            for window in windows:
                window[2] += cost
            self._counts[key] = windows
        return None


def _until_fits(previous: float, current: float, cost: int, amount: int, size: float, elapsed: float) -> float:
    """Seconds until `cost` more uses fit, if no other use comes meanwhile."""
    room = amount - cost
    if current <= room:  # the previous window's share only has to shrink enough
        return size * ((1 - elapsed) - (room - current) / previous)
    # this window's own count must first become the previous one, then shrink enough
    return size * (1 - elapsed) + size * (1 - room / current) if room >= 0 else size * (2 - elapsed)
