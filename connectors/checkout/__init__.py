"""Checkout's Redis store: idempotency, stock counters and reservations, orders, the order stream."""

from connectors.checkout.store import CheckoutStore, CheckoutUnavailable, Claim, Reservation, StreamEntry

__all__ = ["CheckoutStore", "CheckoutUnavailable", "Claim", "Reservation", "StreamEntry"]
