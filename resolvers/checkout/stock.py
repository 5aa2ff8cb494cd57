"""Holding stock for a checkout, and seeding a SKU's counter at its first checkout (from the ERP, as the
worker's reconcile does: `resolvers.stock_counters`; or from the inventory vendor while the ERP is down)."""

from __future__ import annotations

import logging
from typing import NoReturn

from connectors.checkout import CheckoutStore
from connectors.errors import CheckoutUnavailable, VendorUnavailable
from connectors.models import OrderLine, Source
from connectors.offers import OfferLog
from connectors.policy import CallScope
from connectors.telemetry import Counter, series_of, tracer
from connectors.vendors import Vendors
from resolvers.checkout.outcome import PlaceOrderResult, Stop, UserError, unavailable
from resolvers.stock_counters import Available, erp_available, reconcile_from

log = logging.getLogger("bezel.checkout")
HOLDS_RELEASED_UNPAID = Counter(
    "bezel.checkout.holds_released_unpaid",
    description="Stock holds given back because their payment was declined or failed (plentiful stock only: "
                "scarce stock is paid for before it is held).",
    series=series_of())
def inventory_available(vendors: Vendors, scope: CallScope) -> Available:
    """The inventory vendor's current levels, when the ERP cannot answer; never a stale answer."""
    async def ask(skus: list[str]) -> dict[str, int]:
        stock = await vendors.call(vendors.inventory.levels(skus), scope)
        if stock.freshness.source is Source.STALE:
            raise Stop(unavailable("stock levels could not be confirmed"), keep=False)
        return {sku: level.available for sku, level in stock.value.items()}

    return ask


async def precheck(vendors: Vendors, scope: CallScope, store: CheckoutStore, lines: list[OrderLine], *,
                   safety_stock: int, offers: OfferLog) -> bool:
    """OUT_OF_STOCK now if a line is short (nothing asked of the payment provider), seeding counters never
    seen; else whether any line is scarce (below safety stock), which decides the order of the steps."""
    skus = [line.sku for line in lines]
    try:
        levels = await store.stock.available(skus)
        if missing := [sku for sku, units in levels.items() if units is None]:
            await _seed(vendors, scope, store, missing)
            levels = await store.stock.available(skus)
    except CheckoutUnavailable as exc:
        raise Stop(unavailable("stock could not be read"), keep=False) from exc
    short = {line.sku: units for line in lines if (units := levels[line.sku] or 0) < line.quantity}
    if short:
        await _sold_out(lines, short, offers)
    return any((levels[line.sku] or 0) < safety_stock for line in lines)


async def reserve(vendors: Vendors, scope: CallScope, store: CheckoutStore, reservation_id: str,
                  lines: list[OrderLine], *, ttl_s: float, offers: OfferLog) -> None:
    """Hold every line, or stop with OUT_OF_STOCK per short line (a result kept for replay)."""
    wanted = [(line.sku, line.quantity) for line in lines]
    with tracer.start_as_current_span("checkout reserve", attributes={"bezel.lines": len(lines)}) as span:
        try:
            held = await store.stock.reserve(reservation_id, wanted, ttl_s=ttl_s)
            if held.missing:  # never seeded (the reconciler has not run yet): seed, then try again
                span.add_event("seed", {"bezel.skus": list(held.missing)})
                await _seed(vendors, scope, store, list(held.missing))
                held = await store.stock.reserve(reservation_id, wanted, ttl_s=ttl_s)
        except CheckoutUnavailable as exc:
            raise Stop(unavailable("stock could not be reserved"), keep=False) from exc
        span.set_attribute("bezel.reserved", held.ok)
    if held.missing:
        raise Stop(unavailable("stock levels are unknown"), keep=False)
    if held.ok:
        return
    await _sold_out(lines, held.short, offers)


async def _sold_out(lines: list[OrderLine], short: dict[str, int], offers: OfferLog) -> NoReturn:
    """OUT_OF_STOCK for each short line, saying how many are left; a piece a page offered within the
    ghost-offer window counts as a ghost offer."""
    await offers.count_ghosts(sku for sku, left in short.items() if left <= 0)
    raise Stop(_refusal(lines, short), keep=True)


def _refusal(lines: list[OrderLine], short: dict[str, int]) -> PlaceOrderResult:
    errors = []
    for index, line in enumerate(lines):
        if line.sku in short:
            left = short[line.sku]
            message = (f"{line.title} is sold out." if left <= 0
                       else f"Only {left} of {line.title} left; {line.quantity} requested.")
            errors.append(UserError("OUT_OF_STOCK", message, ("lines", str(index), "quantity")))
    return PlaceOrderResult(user_errors=errors)


async def _seed(vendors: Vendors, scope: CallScope, store: CheckoutStore, skus: list[str]) -> None:
    """First checkout of a SKU the reconciler has not seeded yet: from the ERP's available-to-promise
    (the reconciler's source), or, if the ERP is down, the inventory vendor's current level (a down ERP
    must not block a sale), never from a stale answer."""
    try:
        await reconcile_from(store, skus, erp_available(vendors, scope))
    except VendorUnavailable:
        try:
            await reconcile_from(store, skus, inventory_available(vendors, scope))
        except VendorUnavailable as exc:
            raise Stop(unavailable("stock levels could not be read"), keep=False) from exc


async def release(store: CheckoutStore, reservation_id: str, *, unpaid: bool = False) -> None:
    """Give a hold back now; if Redis cannot be reached, it returns by itself when it expires."""
    if unpaid:
        HOLDS_RELEASED_UNPAID.add(1)
    try:
        await store.stock.release(reservation_id)
    except CheckoutUnavailable:
        log.warning("could not release %s now; it returns by itself when it expires", reservation_id)
