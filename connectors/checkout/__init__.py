"""Checkout's Redis store: idempotency, stock counters and reservations, orders, the order stream."""

from connectors.checkout.idempotency import Claim, done_record
from connectors.checkout.order_records import Redriven
from connectors.checkout.stock import Reconciled, Reservation
from connectors.checkout.store import CheckoutStore
from connectors.checkout.stream import DeadLetter, OrderQueue, QueuedEntry, StreamEntry

__all__ = ["CheckoutStore", "Claim", "DeadLetter", "OrderQueue", "QueuedEntry", "Reconciled", "Redriven",
           "Reservation", "StreamEntry", "done_record"]
