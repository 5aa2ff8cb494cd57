"""What keeps one client from making checkout its playground: card testing and parallel attempts.

- Declines are counted per client and per card (`[limits] declines`); past either budget, checkout
  answers RATE_LIMITED before asking the payment provider anything. That stops a card tester (one
  client trying many cards, or many clients trying one card) and cannot be aimed at anyone else: an
  email is anyone's to type, so declines on it would let a stranger lock a buyer out of a drop
  (three declines with her email, from three addresses, did); a card is known by its payment token
  (a Stripe PaymentMethod only the buyer's browser saw, or a test token), digested, never stored.
- A client has at most `max_in_flight_per_client` checkouts running at once; another one answers
  RATE_LIMITED at once (counted in Redis, expiring with the checkout's budget if a gateway dies).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator

from connectors.checkout import CheckoutStore
from connectors.errors import CheckoutUnavailable
from connectors.ratelimits import RateLimits
from connectors.telemetry import Counter, series_of
from resolvers.checkout.outcome import Stop, failed, unavailable

log = logging.getLogger("bezel.checkout")
IDENTITIES = ("client", "card")  # what declines are counted per (`_identities`)
CHECKOUT_REFUSED = Counter(
    "bezel.checkout.refused", description="placeOrder refused before any payment, by reason (declines budget "
                                          "of a client or card; checkouts in flight per client).",
    series=series_of(reason=[*(f"declines_{kind}" for kind in IDENTITIES), "in_flight"]))


def _identities(client: str, payment_token: str) -> list[tuple[str, str]]:
    card = hashlib.sha256(payment_token.encode()).hexdigest()[:32]
    return [("client", client), ("card", card)]


async def refuse_if_over_declines(limits: RateLimits, *, client: str, payment_token: str) -> None:
    for kind, identity in _identities(client, payment_token):
        if await limits.test("declines", kind, identity) is not None:
            CHECKOUT_REFUSED.add(1, {"reason": f"declines_{kind}"})
            log.warning("checkout refused: too many declines for this %s", kind)
            raise Stop(failed("RATE_LIMITED", "Too many declined payments; please wait a few minutes or contact "
                                              "us to complete your order."), keep=False)


async def count_decline(limits: RateLimits, *, client: str, payment_token: str) -> None:
    for kind, identity in _identities(client, payment_token):
        await limits.hit("declines", kind, identity)


@contextlib.asynccontextmanager
async def one_at_a_time(store: CheckoutStore, client: str, *, limit: int, ttl_s: float) -> AsyncIterator[None]:
    """Hold one of the client's checkout slots while the checkout runs, or stop it with RATE_LIMITED."""
    try:
        entered = await store.slots.enter(client, limit=limit, ttl_s=ttl_s)
    except CheckoutUnavailable as exc:
        raise Stop(unavailable("the order store is not answering"), keep=False) from exc
    if not entered:
        CHECKOUT_REFUSED.add(1, {"reason": "in_flight"})
        raise Stop(failed("RATE_LIMITED", "A checkout from your connection is already in progress; please wait "
                                          "for it to finish."), keep=False)
    try:
        yield
    finally:
        with contextlib.suppress(CheckoutUnavailable):  # otherwise it expires with the checkout's budget
            await store.slots.leave(client)
