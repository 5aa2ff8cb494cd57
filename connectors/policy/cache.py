"""Two cache tiers for vendor answers: in-process (always) and Redis (when configured).

Every entry remembers when it was stored (wall clock, so an age means the same thing in every
gateway process), which is what lets the policy say LIVE, CACHE or STALE and how old. Storage is
libraries (cachetools' LRU, redis-py); the freshness bookkeeping is ours, because no cache library
reports whether an answer is stale and by how much.

The shared tier is `connectors.redisclient.SharedRedis`: Redis trouble is a degraded state, never an
outage (bounded calls, skipped for a while after a failure, tried again by itself).

An entry may carry tags naming what it holds (`VendorCall.tags`: "product:123"); `forget` drops
entries by key or by tag from both tiers, `forget_local` from this process's alone (what every other
process does when told of an event, `connectors.invalidation`). In Redis a tag is a set of the keys
under it (`bezel:tag:<tag>`), expiring with them; in-process, a dict pruned as entries go.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from cachetools import LRUCache
from pydantic import TypeAdapter, ValidationError

from connectors.config import CacheConfig
from connectors.redisclient import AnyRedis, SharedRedis, read_many
from connectors.sharedwrites import Write
from connectors.telemetry import Tally

T = TypeVar("T")
log = logging.getLogger("bezel.cache")
_LOCAL_HIT = (("result", "hit"), ("tier", "local"))
_LOCAL_MISS = (("result", "miss"), ("tier", "local"))
_REDIS_HIT = (("result", "hit"), ("tier", "redis"))
_REDIS_MISS = (("result", "miss"), ("tier", "redis"))
# Tags indexed in-process before the index is pruned of entries the LRU has dropped.
MAX_LOCAL_TAGS = 50_000
# How long a dropped key or tag is remembered, so an answer asked for before the drop and arriving after
# it is not stored (it may predate the change): longer than any vendor call takes.
FORGOTTEN_FOR_S = 60.0
CACHE_LOOKUPS = Tally(
    "bezel.cache.lookups",
    description="Cache lookups by tier (local, redis) and result (hit, miss); hit ratio = hit / (hit + miss).",
    series=(_LOCAL_HIT, _LOCAL_MISS, _REDIS_HIT, _REDIS_MISS))


@dataclass(frozen=True, slots=True)
class Entry(Generic[T]):
    value: T
    stored_at: float  # time.time() when the vendor answered
    tier: str  # "local" or "redis": where this read found it

    def age_s(self, now: float | None = None) -> float:
        return max(0.0, (now or time.time()) - self.stored_at)


@functools.cache
def _adapter(result_type: Any) -> TypeAdapter[Any]:
    return TypeAdapter(result_type)


def encode(value: Any, result_type: Any, stored_at: float, expires_at: float, tags: tuple[str, ...] = ()) -> bytes:
    body = orjson.Fragment(_adapter(result_type).dump_json(value))
    doc = {"at": stored_at, "exp": expires_at, "v": body}
    if tags:  # every process that copies the entry into its own tier indexes it by them
        doc["tags"] = tags
    return orjson.dumps(doc)


def decode(raw: bytes | str, result_type: Any) -> tuple[Any, float, float, tuple[str, ...]]:
    """(value, stored_at, expires_at, tags) from a shared-tier payload."""
    doc = orjson.loads(raw)
    return (_adapter(result_type).validate_python(doc["v"]), float(doc["at"]), float(doc["exp"]),
            tuple(doc.get("tags") or ()))


class TieredCache:
    """Local LRU in front of the optional Redis tier; entries expire after fresh + stale windows."""

    def __init__(self, config: CacheConfig, *, redis: SharedRedis | None = None) -> None:
        self.local: LRUCache[str, tuple[Any, float, float]] = LRUCache(maxsize=config.local_max_entries)
        self.redis = redis
        self.tagged: dict[str, set[str]] = {}  # tag -> local keys that carry it (some may be gone)
        self.forgotten: dict[str, float] = {}  # key or tag -> when it was last dropped (time.time())

    async def get(self, key: str, result_type: Any, *, fresh_s: float = float("inf"),
                  read: Callable[[], Awaitable[bytes | None]] | None = None) -> Entry[Any] | None:
        """The newest entry for `key`. A local entry older than `fresh_s` is checked against the shared
        tier, where another process may have stored a fresher answer. `read`: how the shared tier's
        payload for `key` is read, when it is (the call policy takes its lease in the same round trip)."""
        now = time.time()
        hit = self.local.get(key)
        local = None
        if hit is not None:
            value, stored_at, expires_at = hit
            if now < expires_at:
                local = Entry(value, stored_at, "local")
                if local.age_s(now) < fresh_s or self.redis is None:
                    CACHE_LOOKUPS.add(1, _LOCAL_HIT)
                    return local
            else:
                self.local.pop(key, None)
        CACHE_LOOKUPS.add(1, _LOCAL_HIT if local else _LOCAL_MISS)
        if read is None or self.redis is None:
            shared = await self.get_shared(key, result_type)
        else:
            raw = await read()
            CACHE_LOOKUPS.add(1, _REDIS_MISS if raw is None else _REDIS_HIT)
            shared = None if raw is None else self.adopt(key, raw, result_type)
        if local is not None and (shared is None or shared.stored_at <= local.stored_at):
            return local
        return shared

    async def get_shared(self, key: str, result_type: Any) -> Entry[Any] | None:
        """The shared tier's entry, skipping the local one (to see what another process stored)."""
        if self.redis is None:
            return None
        found = await self._read_shared([key], result_type)
        return found.get(key)

    async def get_many(self, keys: list[str], result_type: Any, *, fresh_s: float = float("inf")
                       ) -> dict[str, Entry[Any]]:
        """Entries for many keys: fresh local hits, then one MGET for the rest (newest wins)."""
        now = time.time()
        found: dict[str, Entry[Any]] = {}
        remote: list[str] = []
        for key in keys:
            hit = self.local.get(key)
            if hit is not None and now < hit[2]:
                found[key] = Entry(hit[0], hit[1], "local")
                if now - hit[1] < fresh_s:
                    continue
            remote.append(key)
        if len(keys) > len(remote):
            CACHE_LOOKUPS.add(len(keys) - len(remote), _LOCAL_HIT)
        if remote:
            CACHE_LOOKUPS.add(len(remote), _LOCAL_MISS)
        if remote and self.redis is not None:
            for key, entry in (await self._read_shared(remote, result_type)).items():
                if key not in found or entry.stored_at > found[key].stored_at:
                    found[key] = entry
        return found

    async def _read_shared(self, keys: list[str], result_type: Any) -> dict[str, Entry[Any]]:
        assert self.redis is not None
        shared_keys = [self.redis.key("cache", k) for k in keys]
        raws = await self.redis.call(lambda r: read_many(r, shared_keys), None) or [None] * len(keys)
        hits = sum(raw is not None for raw in raws)
        if hits:
            CACHE_LOOKUPS.add(hits, _REDIS_HIT)
        if len(keys) > hits:
            CACHE_LOOKUPS.add(len(keys) - hits, _REDIS_MISS)
        found = {}
        for key, raw in zip(keys, raws, strict=True):
            entry = self.adopt(key, raw, result_type) if raw is not None else None
            if entry is not None:
                found[key] = entry
        return found

    def adopt(self, key: str, raw: bytes | str, result_type: Any) -> Entry[Any] | None:
        """A shared-tier payload read for `key`, copied into the local tier if it is newer than what is
        there; None if it is unreadable or expired."""
        try:
            value, stored_at, expires_at, tags = decode(raw, result_type)
        except (orjson.JSONDecodeError, ValidationError, KeyError, TypeError, ValueError):
            log.warning("ignoring an unreadable shared cache entry for %s", key)
            return None
        if time.time() >= expires_at:
            return None
        current = self.local.get(key)
        if current is None or current[1] <= stored_at:
            self.local[key] = (value, stored_at, expires_at)
            self._tag(key, tags)
        return Entry(value, stored_at, "redis")

    async def put_many(self, values: dict[str, Any], result_type: Any, *, keep_s: float, stored_at: float,
                       started: float | None = None) -> None:
        """Several entries stored together (one round trip to Redis, with the request's other writes).
        `started`: when their call started; an entry an event dropped since is not written to Redis."""
        if keep_s <= 0 or not values:
            return
        expires_at = stored_at + keep_s
        for key, value in values.items():
            self.local[key] = (value, stored_at, expires_at)
        if self.redis is not None:
            keep_ms = max(1, int(keep_s * 1000))
            await self.redis.write(*(Write([("set", self.redis.key("cache", k),
                                              encode(v, result_type, stored_at, expires_at), keep_ms)],
                                            self._dropped_since(k, (), started))
                                     for k, v in values.items()))

    def put_local(self, key: str, value: Any, *, keep_s: float, stored_at: float, tags: Iterable[str] = ()) -> None:
        """The in-process tier only: at once, no I/O."""
        if keep_s > 0:
            self.local[key] = (value, stored_at, stored_at + keep_s)
            self._tag(key, tags)

    async def put(self, key: str, value: Any, result_type: Any, *, keep_s: float, stored_at: float | None = None,
                  tags: Iterable[str] = (), started: float | None = None) -> None:
        """Keep `value` for `keep_s` seconds (its fresh TTL plus its stale window) in both tiers. `started`:
        when its call started; if an event drops the key or a tag since, the Redis write is not sent."""
        if keep_s <= 0:
            return
        stored_at = stored_at or time.time()
        expires_at = stored_at + keep_s
        self.local[key] = (value, stored_at, expires_at)
        tags = tuple(tags)
        self._tag(key, tags)
        if self.redis is not None:
            keep_ms = max(1, int(keep_s * 1000))
            payload = encode(value, result_type, stored_at, expires_at, tags)
            # A tag's set keeps as long as a vendor's entries do; each op is one key (one slot on a cluster).
            ops = [("set", self.redis.key("cache", key), payload, keep_ms),
                   *(("tag", self.redis.key("tag", tag), key, keep_ms) for tag in tags)]
            await self.redis.write(Write(ops, self._dropped_since(key, tags, started)))

    def _dropped_since(self, key: str, tags: tuple[str, ...], started: float | None) -> Callable[[], bool] | None:
        if started is None:
            return None
        return lambda: self.forgotten_since(key, tags, started)

    def _tag(self, key: str, tags: Iterable[str]) -> None:
        for tag in tags:
            self.tagged.setdefault(tag, set()).add(key)
        if len(self.tagged) > MAX_LOCAL_TAGS:  # drop what the LRU already let go
            for tag in list(self.tagged):
                alive = {k for k in self.tagged[tag] if k in self.local}
                if alive:
                    self.tagged[tag] = alive
                else:
                    del self.tagged[tag]

    def forget_local(self, *, keys: Iterable[str] = (), tags: Iterable[str] = ()) -> int:
        """Drop entries from this process's tier, by key and by tag; how many were there."""
        keys, tags = list(keys), list(tags)
        now = time.time()
        if len(self.forgotten) > MAX_LOCAL_TAGS:
            self.forgotten = {k: at for k, at in self.forgotten.items() if at > now - FORGOTTEN_FOR_S}
        self.forgotten.update(dict.fromkeys([*keys, *tags], now))
        dropped = 0
        for key in [*keys, *(k for tag in tags for k in self.tagged.pop(tag, ()))]:
            dropped += self.local.pop(key, None) is not None
        return dropped

    def forgotten_since(self, key: str, tags: Iterable[str], started: float) -> bool:
        """Whether `key` or one of `tags` was dropped after `started`: an answer asked for before that
        may hold what the change replaced, and is not to be stored."""
        return any(self.forgotten.get(name, 0.0) >= started for name in (key, *tags))

    async def forget(self, *, keys: Iterable[str] = (), tags: Iterable[str] = ()) -> int:
        """Drop entries from both tiers, by key and by tag (every key a tag's set names in Redis, too)."""
        keys, tags = list(keys), list(tags)
        dropped = self.forget_local(keys=keys, tags=tags)
        if self.redis is None or not (keys or tags):
            return dropped
        redis = self.redis

        async def drop(r: AnyRedis) -> int:
            named = set(keys)
            for tag in tags:
                tag_key = redis.key("tag", tag)
                named |= {m.decode() if isinstance(m, bytes) else m for m in await r.smembers(tag_key)}
                await r.delete(tag_key)
            return sum(await asyncio.gather(*(r.delete(redis.key("cache", k)) for k in named)))

        return dropped + int(await redis.call(drop, 0))

    def clear_local(self) -> None:
        """Forget this process's whole tier (it may have missed invalidations while cut off)."""
        self.local.clear()
        self.tagged.clear()

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
