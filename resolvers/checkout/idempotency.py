"""Stripe's idempotency protocol for placeOrder, on the checkout store's records.

The same key and input replays the stored result, other input is IDEMPOTENCY_KEY_REUSED, a key still
running is IDEMPOTENCY_KEY_IN_USE. Results are stored once execution has started (OUT_OF_STOCK,
PAYMENT_DECLINED, the order); failures that say nothing about the order free the key for a retry.

A key belongs to the buyer who made it: it is kept under a digest of the client (the address, or its
IPv6 /64) and the email with the key itself. Keys were global: another customer's key answered
IDEMPOTENCY_KEY_REUSED (telling a stranger it exists, and letting one claim a key before its owner),
and the same input from a third address was given the order, its personal data and its order token.
The price of that scope: a retry after a lost answer must come from the same client, as it does from
the page that sent it; one from another network is a new attempt (a scarce piece then answers
OUT_OF_STOCK, the buyer already having it).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from connectors.checkout import CheckoutStore, Claim
from connectors.errors import CheckoutUnavailable
from resolvers.checkout.outcome import PlaceOrderResult, Stop, failed, unavailable

log = logging.getLogger("bezel.checkout")


def key_digest(idempotency_key: str, *, client: str, email: str) -> str:
    """What the key is stored under: the key as this client and email own it (never the key itself)."""
    return hashlib.sha256(f"{client}\x00{email.lower()}\x00{idempotency_key}".encode()).hexdigest()


async def replay_or_refuse(store: CheckoutStore, claim: Claim, fingerprint: str, idempotency_key: str
                           ) -> PlaceOrderResult:
    """The answer for a key that was already claimed: its stored result, or why not."""
    if claim.fingerprint != fingerprint:
        return failed("IDEMPOTENCY_KEY_REUSED", "This idempotency key was used for a different order. Use a new "
                                                "key for a new order.", ("idempotencyKey",))
    if claim.state == "in_flight":
        return failed("IDEMPOTENCY_KEY_IN_USE", "An order with this idempotency key is still being placed. Wait "
                                                "for it, then retry to get its result.", ("idempotencyKey",))
    return await _replay(store, claim.result or {}, idempotency_key)


async def _replay(store: CheckoutStore, record: dict[str, Any], idempotency_key: str) -> PlaceOrderResult:
    order = None
    if record.get("order_id"):
        try:
            found = await store.orders.get(record["order_id"])
        except CheckoutUnavailable:
            return unavailable("the order store is not answering")
        order = found[0] if found else None
    return PlaceOrderResult.from_record(record, idempotency_key, order)


async def settle(store: CheckoutStore, key: str, key_digest: str, fingerprint: str, attempt: str, stop: Stop, *,
                 ttl_s: float) -> None:
    """After an early stop: keep its result for replay (for `ttl_s`: such results say nothing lasting),
    free the key, or leave it held (unclear outcome)."""
    try:
        if stop.keep:
            await store.idempotency.finish(key_digest, fingerprint, stop.result.to_record(key), ttl_s=ttl_s)
        elif not stop.hold_key:
            await store.idempotency.abandon(key_digest, attempt)
    except CheckoutUnavailable:
        log.warning("could not settle idempotency key; it frees itself after in_flight_ttl_s")
