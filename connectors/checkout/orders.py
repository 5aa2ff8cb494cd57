"""Orders and their downstream sync states: written with their stream entry in one step, read by id."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from connectors.checkout import lua
from connectors.checkout.connection import CheckoutRedis, text
from connectors.checkout.idempotency import IdempotencyRecords
from connectors.models import DownstreamState, DownstreamSystem, Order, SyncStatus

_ORDER = TypeAdapter(Order)


class OrderRecords:
    def __init__(self, redis: CheckoutRedis, idempotency: IdempotencyRecords, *, stream_max_len: int) -> None:
        self.redis = redis
        self.idempotency = idempotency
        self.stream_max_len = stream_max_len
        self._confirm = redis.script(lua.CONFIRM)

    async def confirm(self, order: Order, *, token_hash: str, key_digest: str, idempotency_record: str,
                      idempotency_ttl_s: float, retention_s: float, traceparent: str = "") -> bool:
        """Write the order, its sync states, the idempotency result and the stream entry in one step.

        False if the reservation is gone (expired and reclaimed): nothing was written."""
        doc = json.dumps({"token": token_hash, "order": json.loads(_ORDER.dump_json(order))})
        pending = DownstreamState(system=DownstreamSystem.ERP, status=SyncStatus.PENDING, attempts=0)
        args: list[Any] = [order.reservation_id, order.id, doc, int(retention_s * 1000), idempotency_record,
                           int(idempotency_ttl_s * 1000), traceparent, int(order.created_at * 1000),
                           self.stream_max_len, len(order.downstream_systems)]
        for system in order.downstream_systems:
            args += [system, _state_json(pending)]
        keys = self.redis.keys
        script_keys = [keys.reservations, keys.expiry, keys.key("order", order.id), keys.key("sync", order.id),
                       self.idempotency.key(key_digest), keys.stream]
        return bool(await self.redis.do(lambda: self._confirm(keys=script_keys, args=args)))

    async def get(self, order_id: str) -> tuple[Order, str] | None:
        """The order and its token's hash, or None."""
        raw = await self.redis.do(lambda: self.redis.client.get(self.redis.keys.key("order", order_id)))
        if raw is None:
            return None
        doc = json.loads(raw)
        return _ORDER.validate_python(doc["order"]), doc["token"]

    async def sync_states(self, order_id: str) -> dict[str, DownstreamState]:
        raw = await self.redis.do(lambda: self.redis.client.hgetall(self.redis.keys.key("sync", order_id)))
        return {text(k): _state_from(text(k), v) for k, v in raw.items()}

    async def set_sync(self, order_id: str, state: DownstreamState) -> None:
        key = self.redis.keys.key("sync", order_id)
        await self.redis.do(lambda: self.redis.client.hset(key, state.system, _state_json(state)))


def _state_json(state: DownstreamState) -> str:
    return json.dumps({"status": state.status.value, "attempts": state.attempts, "last_error": state.last_error,
                       "updated_at": state.updated_at})


def _state_from(system: str, raw: bytes) -> DownstreamState:
    doc = json.loads(raw)
    return DownstreamState(system=DownstreamSystem(system), status=SyncStatus(doc["status"]),
                           attempts=int(doc["attempts"]), last_error=doc.get("last_error"),
                           updated_at=doc.get("updated_at"))
