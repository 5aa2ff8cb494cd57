"""Idempotency records: claim a key for a new checkout, or learn what an earlier request left there."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from connectors.checkout import lua
from connectors.checkout.connection import CheckoutRedis


@dataclass(frozen=True)
class Claim:
    """What `begin` found under an idempotency key."""

    state: str  # "new", "in_flight", "done"
    fingerprint: str | None = None
    result: dict[str, Any] | None = None


class IdempotencyRecords:
    def __init__(self, redis: CheckoutRedis) -> None:
        self.redis = redis
        self._begin = redis.script(lua.BEGIN)
        self._abandon = redis.script(lua.ABANDON)

    def key(self, key_digest: str) -> str:
        return self.redis.keys.key("idem", key_digest)

    async def begin(self, key_digest: str, fingerprint: str, *, attempt: str, in_flight_ttl_s: float) -> Claim:
        """Claim an idempotency key for a new request (as `attempt`), or learn what it already holds."""
        record = json.dumps({"state": "in_flight", "fp": fingerprint, "attempt": attempt, "at": time.time()})
        found = await self.redis.do(lambda: self._begin(keys=[self.key(key_digest)],
                                                        args=[record, int(in_flight_ttl_s * 1000)]))
        if not found:
            return Claim("new", fingerprint)
        doc = json.loads(found)
        return Claim(doc["state"], doc.get("fp"), doc.get("result"))

    async def finish(self, key_digest: str, fingerprint: str, result: dict[str, Any], *, ttl_s: float) -> None:
        """Store a final result to replay (failures after execution started are results too)."""
        record = done_record(fingerprint, result)
        await self.redis.do(lambda: self.redis.client.set(self.key(key_digest), record, px=int(ttl_s * 1000)))

    async def abandon(self, key_digest: str, attempt: str) -> None:
        """Free the key after a transient failure so the client may retry with it, if it is still this
        attempt's in-flight claim (never a stored result or a newer request's claim)."""
        await self.redis.do(lambda: self._abandon(keys=[self.key(key_digest)], args=[attempt]))


def done_record(fingerprint: str, result: dict[str, Any]) -> str:
    """The stored result of a finished request, as `begin` reads it back."""
    return json.dumps({"state": "done", "fp": fingerprint, "result": result, "at": time.time()})
