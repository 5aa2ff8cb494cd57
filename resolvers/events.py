"""What an event from a system that changes things means for Bezel: which cached answers it replaces
or drops, and which stock counters it lowers. Events first, timers as the backstop.

- The inventory system's new level for a SKU (commercetools, or Shopify by inventory item): the
  cached level is replaced with the event's, in both tiers, as if the vendor had just said it.
- A product edited or deleted in the catalog (Shopify): every cached catalog answer holding it
  (tagged `product:<id>`) is dropped; a deleted one drops the list pages too.
- The ERP's stock (a sale in a shop, a return, a restock): checkout's counter is lowered to the ERP's
  number less Bezel's own holds, never raised (the periodic reconcile, which knows which sales the ERP
  has counted, does that); pages read that counter on every view, so it shows at once.

Then one invalidation tells every gateway process (`connectors.events.bus`); TTLs stay, for the events
that never arrive. The gateway reads the wire formats (`gateway.webhooks`) and calls `apply`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from connectors.catalog import LISTING, product_tag
from connectors.checkout import CheckoutStore
from connectors.errors import CheckoutUnavailable, PublicError
from connectors.events import Invalidation, InvalidationBus
from connectors.inventory import LEVELS
from connectors.models import Event, InventoryItemChanged, ProductChanged, StockChanged, StockLevel, Vendor
from connectors.policy import CallScope, Deadline
from connectors.telemetry import meter
from connectors.vendors import Vendors

log = logging.getLogger("bezel.events")
INVALIDATIONS = meter.create_counter(
    "bezel.invalidations",
    description="Cached answers an event replaced or dropped, by vendor and kind (replaced, dropped); stock "
                "counters it lowered (vendor checkout).")
LOOKUP_MS = 2_000  # finding a Shopify inventory item's SKU: nobody waits on it


@dataclass
class Applied:
    """What one event did here (the same keys and tags every other process drops)."""

    keys: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    lowered: dict[str, tuple[int, int]] = field(default_factory=dict)  # sku -> (before, after) of a counter
    skus: list[str] = field(default_factory=list)  # whose stock changed: live pages are told (`resolvers.live`)
    products: list[str] = field(default_factory=list)  # whose catalog entry changed


async def apply(vendors: Vendors, store: CheckoutStore | None, bus: InvalidationBus, event: Event) -> Applied:
    """Replace, drop and lower what `event` changed, here and in the shared tier, then tell every process."""
    applied = Applied()
    for told in event.changes:
        change = await _by_sku(vendors, told) if isinstance(told, InventoryItemChanged) else told
        if change is None:  # an item no SKU of ours is known by
            continue
        if isinstance(change, StockChanged):
            applied.skus.append(change.sku)
        elif isinstance(change, ProductChanged):
            applied.products.append(change.product_id)
        if isinstance(change, StockChanged) and change.system == "inventory":
            await _replace_level(vendors, change, event.origin_at, applied)
        elif isinstance(change, StockChanged):
            await _lower_counter(store, change, applied)
        elif isinstance(change, ProductChanged):
            applied.tags.append(product_tag(change.product_id))
            if change.deleted:
                applied.tags.append(LISTING)
    if applied.tags:
        dropped = await vendors.cache.forget(tags=applied.tags)
        INVALIDATIONS.add(dropped, {"vendor": Vendor.CATALOG, "kind": "dropped"})
    if applied.keys or applied.tags or applied.skus or applied.products:
        await bus.publish(Invalidation(source=event.source, origin_at=event.origin_at, keys=applied.keys,
                                       tags=applied.tags, skus=applied.skus, products=applied.products))
    return applied


async def _replace_level(vendors: Vendors, change: StockChanged, at: float, applied: Applied) -> None:
    policy = vendors.policies[Vendor.INVENTORY]
    level = StockLevel(sku=change.sku, available=max(0, change.available),
                       on_hand=change.on_hand if change.on_hand is not None else change.available)
    await policy.replace_item(LEVELS, change.sku, level, StockLevel, stored_at=at)
    applied.keys.append(policy.item_key(LEVELS, change.sku))
    INVALIDATIONS.add(1, {"vendor": Vendor.INVENTORY, "kind": "replaced"})


async def _lower_counter(store: CheckoutStore | None, change: StockChanged, applied: Applied) -> None:
    if store is None:
        return
    try:
        lowered = await store.stock.lower({change.sku: change.available})
    except CheckoutUnavailable as exc:  # the reconcile round will catch up
        log.warning("event: could not lower the counter of %s (%s)", change.sku, exc)
        return
    applied.lowered.update(lowered)
    if lowered:
        INVALIDATIONS.add(len(lowered), {"vendor": "checkout", "kind": "lowered"})
        log.info("event: counter of %s lowered %d -> %d (ERP)", change.sku, *lowered[change.sku])


async def _by_sku(vendors: Vendors, change: InventoryItemChanged) -> StockChanged | None:
    """Shopify names an inventory item, not a SKU: the catalog says which (cached: it never changes)."""
    try:
        found = await vendors.call(vendors.catalog.sku_of_inventory_item(change.inventory_item_id),
                                   CallScope(Deadline.after_ms(LOOKUP_MS)))
    except PublicError as exc:
        log.warning("event: inventory item %s could not be matched to a SKU (%s)", change.inventory_item_id, exc)
        return None
    if found.value is None:
        log.info("event: inventory item %s is no variant of this catalog", change.inventory_item_id)
        return None
    return StockChanged(sku=found.value, available=change.available, on_hand=None, system="inventory")
