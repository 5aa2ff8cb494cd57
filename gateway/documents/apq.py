"""Automatic persisted queries (Apollo): texts registered by their SHA-256, for hash-only requests.

Registered in an in-process LRU and, when Redis is configured, in the shared tier so every gateway
process knows a text one of them registered. Redis down is degraded, not broken: each process keeps
what it has seen, and a client whose hash is not found simply sends the text again.
"""

from __future__ import annotations

import hashlib

from cachetools import LRUCache

from connectors.redisclient import SharedRedis


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PersistedQueries:
    def __init__(self, *, ttl_s: int, local_max_entries: int) -> None:
        self.ttl_s = ttl_s
        self.local: LRUCache[str, str] = LRUCache(maxsize=local_max_entries)
        self.redis: SharedRedis | None = None

    def share(self, redis: SharedRedis | None) -> None:
        """The shared tier, once the process has one (the gateway's lifespan)."""
        self.redis = redis

    async def get(self, digest: str) -> str | None:
        text = self.local.get(digest)
        if text is None and self.redis is not None:
            key = self.redis.key("apq", digest)
            raw = await self.redis.call(lambda r: r.get(key), None)
            if raw is not None:
                text = raw.decode()
                self.local[digest] = text
        return text

    async def register(self, digest: str, text: str) -> None:
        self.local[digest] = text
        if self.redis is not None:
            key = self.redis.key("apq", digest)
            await self.redis.call(lambda r: r.set(key, text.encode(), ex=self.ttl_s), None)
