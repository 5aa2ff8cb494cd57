"""How many checkouts each client has running: a client takes a slot to start one and gives it back when
it ends (one at a time by default, `[checkout] max_in_flight_per_client`). A slot expires with the
checkout's budget, so a gateway that dies holding one does not block its client for long."""

from __future__ import annotations

import hashlib

from connectors.checkout import lua
from connectors.checkout.connection import CheckoutRedis


class ClientSlots:
    def __init__(self, redis: CheckoutRedis) -> None:
        self.redis = redis
        self._enter = redis.script(lua.ENTER)
        self._leave = redis.script(lua.LEAVE)

    async def enter(self, client: str, *, limit: int, ttl_s: float) -> bool:
        """One more checkout in flight for `client`, unless it already has `limit`."""
        key = self._key(client)
        return bool(await self.redis.do(lambda: self._enter(keys=[key], args=[limit, int(ttl_s * 1000)])))

    async def leave(self, client: str) -> None:
        key = self._key(client)
        await self.redis.do(lambda: self._leave(keys=[key]))

    def _key(self, client: str) -> str:
        return self.redis.keys.key("clients", hashlib.sha256(client.encode()).hexdigest()[:32])
