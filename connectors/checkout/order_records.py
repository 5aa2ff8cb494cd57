"""Orders and their downstream sync states: written with their stream entry in one step, read by id; the
orders some system is still owed are indexed (`owed`), so the stream can be rebuilt if Redis loses it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from connectors.checkout import lua
from connectors.checkout.connection import CheckoutRedis
from connectors.checkout.idempotency import IdempotencyRecords
from connectors.checkout.requeue import OwedOrders
from connectors.models import DownstreamState, DownstreamSystem, Order, SyncStatus
from connectors.redisclient import text

_ORDER = TypeAdapter(Order)

# Confirming, in one step: the order, its sync states, the idempotency result and the stream entry are
# written together, and the reservation is pinned (it no longer expires): the customer is told
# "confirmed" only after this. The order joins the owed index (scored by its entry's ms: no entry of it
# is older), which a worker rebuilds the stream from if Redis loses it; members past retention leave it.
# Returns 1 when confirmed (also when this very order was confirmed already: a retried confirm after an
# unclear answer adds nothing twice), 0 if the reservation is gone. Keys and arguments in `confirm`'s order.
CONFIRM = """
local reservations, expiry, order_key, sync_key, result_key, stream, owed = unpack(KEYS)
local reservation_id, order_id, order_doc, retention_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local result_doc, result_ttl_ms, traceparent, created_ms = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local stream_max_len, n_systems = ARGV[9], tonumber(ARGV[10])  -- then a system and its state, n_systems times

local doc = redis.call('HGET', reservations, reservation_id)
if not doc then return 0 end
local r = cjson.decode(doc)
if r.order then
  if r.order == order_id then return 1 end
  return 0
end
r.order = order_id
redis.call('HSET', reservations, reservation_id, cjson.encode(r))
redis.call('ZREM', expiry, reservation_id)
redis.call('SET', order_key, order_doc, 'PX', retention_ms)
for i = 0, n_systems - 1 do redis.call('HSET', sync_key, ARGV[11 + 2 * i], ARGV[12 + 2 * i]) end
redis.call('PEXPIRE', sync_key, retention_ms)
redis.call('SET', result_key, result_doc, 'PX', result_ttl_ms)
local entry = redis.call('XADD', stream, 'MAXLEN', '~', stream_max_len, '*', 'order_id', order_id,
                         'traceparent', traceparent, 'created_ms', created_ms)
local at = tonumber(string.match(entry, '^%d+'))
redis.call('ZADD', owed, at, order_id)
redis.call('ZREMRANGEBYSCORE', owed, '-inf', at - tonumber(retention_ms))
return 1
"""


class OrderRecords:
    def __init__(self, redis: CheckoutRedis, idempotency: IdempotencyRecords, *, stream_max_len: int) -> None:
        self.redis = redis
        self.idempotency = idempotency
        self.stream_max_len = stream_max_len
        self._confirm = redis.script(CONFIRM)
        self._redrive = redis.script(lua.REDRIVE)
        self._set_sync = redis.script(lua.SET_SYNC)
        self.owed = OwedOrders(redis)

    async def confirm(self, order: Order, *, token_hash: str, key_digest: str, idempotency_record: str,
                      idempotency_ttl_s: float, retention_s: float, traceparent: str = "") -> bool:
        """Write the order, its sync states, the idempotency result and the stream entry in one step (and
        index the order as owed to its systems).

        False if the reservation is gone (expired and reclaimed): nothing was written."""
        doc = json.dumps({"token": token_hash, "order": json.loads(_ORDER.dump_json(order))})
        pending = DownstreamState(system=DownstreamSystem.ERP, status=SyncStatus.PENDING, attempts=0)
        args: list[Any] = [order.reservation_id, order.id, doc, int(retention_s * 1000), idempotency_record,
                           int(idempotency_ttl_s * 1000), traceparent, int(order.created_at * 1000),
                           self.stream_max_len, len(order.downstream_systems)]  # as CONFIRM names them
        for system in order.downstream_systems:
            args += [system, _state_json(pending)]
        keys = self.redis.keys
        script_keys = [keys.reservations, keys.expiry, keys.key("order", order.id), keys.key("sync", order.id),
                       self.idempotency.key(key_digest), keys.stream, keys.owed]
        confirmed = bool(await self.redis.do(lambda: self._confirm(keys=script_keys, args=args)))
        if confirmed:
            await self.redis.replicated(keys.stream)  # no buyer is told "confirmed" of an order a failover could lose
        return confirmed

    async def get(self, order_id: str) -> tuple[Order, str] | None:
        """The order and its token's hash, or None."""
        raw = await self.redis.do(lambda: self.redis.client.get(self.redis.keys.key("order", order_id)))
        if raw is None:
            return None
        doc = json.loads(raw)
        return _ORDER.validate_python(doc["order"]), doc["token"]

    async def exists(self, order_id: str) -> bool:
        return bool(await self.redis.do(lambda: self.redis.client.exists(self.redis.keys.key("order", order_id))))

    async def sync_states(self, order_id: str) -> dict[str, DownstreamState]:
        raw = await self.redis.do(lambda: self.redis.client.hgetall(self.redis.keys.key("sync", order_id)))
        return {text(k): _state_from(text(k), v) for k, v in raw.items()}

    async def set_sync(self, order_id: str, state: DownstreamState) -> None:
        """Write one system's sync state; the order leaves the owed index once every system's is settled
        (SYNCED or FAILED), in the same step (`lua.SET_SYNC`)."""
        keys = self.redis.keys
        script_keys = [keys.key("sync", order_id), keys.owed]
        args = [str(state.system), _state_json(state), order_id]
        await self.redis.do(lambda: self._set_sync(keys=script_keys, args=args))

    async def redrive(self, order_id: str, system: DownstreamSystem, dead_letter_ids: Sequence[str], *,
                      last_error: str | None, traceparent: str = "") -> Redriven:
        """Put an order's dead-lettered sync to `system` back on the stream, for that system only, in one step
        (see `lua.REDRIVE`): the sync state becomes PENDING with its attempts reset to 0 (the worker gives up
        after `max_deliveries` attempts counted from it, so a redrive gets a full set; `last_error` stays what
        made it give up), and the dead letters named are deleted. Safe to repeat: a second call finds no dead
        letter and adds nothing."""
        keys = self.redis.keys
        pending = _state_json(DownstreamState(system, SyncStatus.PENDING, 0, last_error, time.time()))
        script_keys = [keys.dead_letters, keys.stream, keys.key("order", order_id), keys.key("sync", order_id),
                       keys.owed]
        args = [str(system), order_id, self.stream_max_len, pending, traceparent, *dead_letter_ids]
        reply = await self.redis.do(lambda: self._redrive(keys=script_keys, args=args))
        outcome = text(reply[0])
        if outcome == REDRIVEN:
            await self.redis.replicated(keys.stream)  # no operator is told "redriven" of a step a failover could lose
        return Redriven(order_id, system, outcome, text(reply[1]) if outcome == REDRIVEN else None)


REDRIVEN = "redriven"  # the outcomes of a redrive, as `lua.REDRIVE` returns them
NOT_DEAD = "none"
NO_ORDER = "no_order"
ALREADY_SYNCED = "synced"


@dataclass(frozen=True)
class Redriven:
    """What a redrive did: `outcome` is one of REDRIVEN (queued as `entry_id`), NOT_DEAD (no dead letter: redriven
    already), NO_ORDER (the order is gone; its dead letters stay), ALREADY_SYNCED (dead letters deleted)."""

    order_id: str
    system: DownstreamSystem
    outcome: str
    entry_id: str | None = None


def _state_json(state: DownstreamState) -> str:
    return json.dumps({"status": state.status.value, "attempts": state.attempts, "last_error": state.last_error,
                       "updated_at": state.updated_at})


def _state_from(system: str, raw: bytes | str) -> DownstreamState:
    doc = json.loads(raw)
    return DownstreamState(system=DownstreamSystem(system), status=SyncStatus(doc["status"]),
                           attempts=int(doc["attempts"]), last_error=doc.get("last_error"),
                           updated_at=doc.get("updated_at"))
