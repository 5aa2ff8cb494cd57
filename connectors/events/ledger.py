"""Which event deliveries were seen, and the newest version of each resource applied.

Shopify retries a delivery for 4 hours (8 tries), EventBridge and the ERP retry too, and a sender may
deliver twice or out of order: an event is applied once (`X-Shopify-Webhook-Id`, a CloudEvent's
`id`), and never over a newer one about the same resource (a sequence number, or when it happened).
Both are kept in the shared Redis tier, so every gateway process agrees, in one script under one
hash tag (`{events}`: one slot on a Redis Cluster). Redis down is degraded, not blind: each process
keeps its own ledger meanwhile (a delivery retried to another process may then apply twice, which
an invalidation survives: it is idempotent).
"""

from __future__ import annotations

import enum

from cachetools import TTLCache
from redis.typing import EncodableT

from connectors.models import Event
from connectors.redisclient import SharedRedis, text

MAX_LOCAL = 100_000  # deliveries and resources one process remembers while Redis is away

# KEYS: seen (this delivery), version (this resource). ARGV: ttl ms, version.
# 'duplicate' if the delivery was seen; 'stale' if a newer version of the resource was applied; else
# records both and answers 'new'. An equal version is not stale: applying it again changes nothing.
_ADMIT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) == false then return 'duplicate' end
local known = redis.call('GET', KEYS[2])
if known and tonumber(known) > tonumber(ARGV[2]) then return 'stale' end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1])
return 'new'
"""


class Admission(enum.StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    STALE = "stale"


class EventLedger:
    def __init__(self, redis: SharedRedis | None, *, ttl_s: float) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._seen: TTLCache[str, bool] = TTLCache(MAX_LOCAL, ttl=ttl_s)
        self._versions: TTLCache[str, float] = TTLCache(MAX_LOCAL, ttl=ttl_s)

    async def admit(self, event: Event) -> Admission:
        """Whether `event` is new, a repeat of a delivery, or older than what is known of its resource."""
        seen = f"{event.source}:{event.delivery_id}"
        resource = f"{event.source}:{event.resource}"
        if self.redis is not None:
            redis = self.redis
            keys = [redis.key("{events}", "seen", seen), redis.key("{events}", "version", resource)]
            args: list[EncodableT] = [int(self.ttl_s * 1000), repr(event.version)]
            answer = await redis.call(lambda r: r.eval(_ADMIT, 2, *keys, *args), None)
            if answer is not None:
                admission = Admission(text(answer))
                self._note(seen, resource, event.version, admission)
                return admission
        return self._admit_locally(seen, resource, event.version)

    def _admit_locally(self, seen: str, resource: str, version: float) -> Admission:
        if seen in self._seen:
            return Admission.DUPLICATE
        self._seen[seen] = True
        if self._versions.get(resource, float("-inf")) > version:
            return Admission.STALE
        self._versions[resource] = version
        return Admission.NEW

    def _note(self, seen: str, resource: str, version: float, admission: Admission) -> None:
        """What Redis decided, kept here too: the local ledger is what decides while Redis is away."""
        self._seen[seen] = True
        if admission is Admission.NEW:
            self._versions[resource] = max(version, self._versions.get(resource, float("-inf")))
