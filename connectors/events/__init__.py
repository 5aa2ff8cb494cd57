"""Events from the systems that change things: which deliveries were seen and which are older than
what is known (`ledger`), and the invalidations every gateway process hears of (`bus`)."""

from connectors.events.bus import Invalidation, InvalidationBus
from connectors.events.ledger import Admission, EventLedger

__all__ = ["Admission", "EventLedger", "Invalidation", "InvalidationBus"]
