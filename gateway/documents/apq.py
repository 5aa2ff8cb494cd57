"""Automatic persisted queries (Apollo): texts registered by their SHA-256, for hash-only requests.

Registered in an in-process LRU and, when Redis is configured, in the shared tier so every gateway
process knows a text one of them registered. Redis down is degraded, not broken: each process keeps
what it has seen, and a client whose hash is not found simply sends the text again.

Registration is anyone's to ask for, so what it may keep is bounded three ways: a text of at most
`max_bytes` (bytes, not tokens: comments cost no tokens, and 15 registrations of a 62 KB comment
added 1 MB a day to the Redis that also holds orders); at most `max_entries` texts in Redis, the
oldest dropped first (one script keeps an index beside them, all under one hash tag, so it holds on
a Redis Cluster); and `[limits] apq_registrations` new texts per client. A text refused any of these
still runs: it is just not remembered, and its client keeps sending it whole.
"""

from __future__ import annotations

import hashlib
import time

from cachetools import LRUCache
from redis.typing import EncodableT

from connectors.ratelimits import RateLimits
from connectors.redisclient import SharedRedis, text
from schema.refusals import REFUSED

# KEYS: the entry, the index (a sorted set of entry keys by registration time). ARGV: the text, its TTL
# in seconds, the most entries kept, now in ms. Expired entries leave the index first, then the oldest
# until there is room; 1 if the text was new, 0 if it was known (its TTL renewed).
_REGISTER = """
local ttl_ms = tonumber(ARGV[2]) * 1000
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
  redis.call('ZADD', KEYS[2], ARGV[4], KEYS[1])
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (tonumber(ARGV[4]) - ttl_ms))
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3]) + 1
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #popped, 2 do redis.call('DEL', popped[i]) end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl_ms)
redis.call('ZADD', KEYS[2], ARGV[4], KEYS[1])
redis.call('PEXPIRE', KEYS[2], ttl_ms)
return 1
"""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PersistedQueries:
    def __init__(self, *, ttl_s: int, local_max_entries: int, max_bytes: int, max_entries: int) -> None:
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.local: LRUCache[str, str] = LRUCache(maxsize=local_max_entries)
        self.redis: SharedRedis | None = None
        self.limits: RateLimits | None = None

    def share(self, redis: SharedRedis | None, limits: RateLimits | None = None) -> None:
        """The shared tier and the per-client budgets, once the process has them (the gateway's lifespan)."""
        self.redis = redis
        self.limits = limits

    def _key(self, digest: str) -> str:
        assert self.redis is not None
        return self.redis.key("{apq}", digest)  # one slot for the entries and their index

    async def get(self, digest: str) -> str | None:
        document = self.local.get(digest)
        if document is None and self.redis is not None:
            key = self._key(digest)
            raw = await self.redis.call(lambda r: r.get(key), None)
            if raw is not None:
                document = self.local[digest] = text(raw)
        return document

    async def register(self, digest: str, text: str, *, client: str) -> bool:
        """Remember `text` under `digest` if it is small enough and the client may register one more."""
        if len(text.encode()) > self.max_bytes:
            REFUSED.add(1, (("reason", "apq_too_large"),))
            return False
        if digest in self.local:
            return True
        if self.limits is not None and await self.limits.hit("apq_registrations", client) is not None:
            REFUSED.add(1, (("reason", "rate_limit_apq_registrations"),))
            return False
        self.local[digest] = text
        if self.redis is not None:
            redis = self.redis
            keys = [self._key(digest), redis.key("{apq}", "index")]
            args: list[EncodableT] = [text.encode(), self.ttl_s, self.max_entries, int(time.time() * 1000)]
            await redis.call(lambda r: r.eval(_REGISTER, len(keys), *keys, *args), None)
        return True
