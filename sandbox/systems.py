"""The ERP, the inventory system and the catalog as separate systems, each sending its own webhooks.

A real shop's ERP does not share a table with its inventory system: an integration passes each ERP
change on, typically once a minute. So here an ERP change (a Bezel sales order, or a restock through
the admin API) sends the ERP's `stock.changed` at once and reaches the inventory system only after
`erp_sync_delay_ms`, as a delta: a sale recorded in the inventory system meanwhile (a shop's till)
is kept, not overwritten. The inventory's change then sends its own `InventoryEntryQuantitySet`.
Bezel sees that gap in `make run` and in tests, as it would in production.

    PUT  /_admin/stock/{sku}            {"quantity"}                     both systems agree at n (one inventory event)
    GET  /_admin/stock/{sku}            {"sku", "quantity", "inventory", "erp"}
    PUT  /_admin/inventory/stock/{sku}  {"quantity", "via"?}             the inventory system only (a shop sale)
    PUT  /_admin/erp/stock/{sku}        {"quantity", "reason"?}          the ERP only; passed on after the delay
    PUT  /_admin/price/{sku}            {"price": "123.00"}              the catalog's price; products/update
    DELETE /_admin/products/{handle}                                     gone from the catalog; products/delete
    GET|PUT /_admin/webhooks            where and how webhooks are delivered (`sandbox.webhooks`)
    GET  /_admin/webhooks/deliveries?limit=
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox import events
from sandbox.state import ErpReason, SandboxState
from sandbox.vendors.catalog import product_json
from sandbox.webhooks import Outbox, Source


class Systems:
    """The stock and catalog changes that send webhooks, and the ERP-to-inventory integration's timers."""

    def __init__(self, state: SandboxState, outbox: Outbox) -> None:
        self.state = state
        self.outbox = outbox
        self._passing_on: dict[asyncio.Task[None], str] = {}  # pending ERP-to-inventory syncs, by SKU
        state.erp_listener = self._erp_changed

    def set_both(self, sku: str, quantity: int) -> None:
        """Both systems at `quantity` (a sale recorded in both); ERP changes not yet passed on are dropped."""
        self._cancel(sku)
        self.state.erp_stock[sku] = quantity
        self.set_inventory(sku, quantity)

    def set_inventory(self, sku: str, quantity: int, via: Source = Source.COMMERCETOOLS) -> None:
        """The inventory system's level, and its webhook: commercetools', or Shopify's if it keeps the stock."""
        at = datetime.now(UTC)
        old, version, sequence = self.state.set_inventory_level(sku, quantity, events.utc_millis(at))
        if via is Source.SHOPIFY:
            _, variant = self.state.by_sku[sku]
            self.outbox.emit(events.shopify_inventory_level(variant.id, quantity, at))
        else:
            self.outbox.emit(events.commercetools_quantity_set(sku, old, quantity, version=version,
                                                               sequence=sequence, at=at))

    def set_erp(self, sku: str, quantity: int, reason: ErpReason) -> None:
        self.state.set_erp_level(sku, quantity, reason)

    def set_price(self, sku: str, price: Decimal, root: str) -> dict[str, Any]:
        """The variant's new price, served from now on; returns the product JSON its webhook carries."""
        at = datetime.now(UTC)
        product = self.state.set_price(sku, price, events.shop_time(at))
        doc = product_json(product, root)
        self.outbox.emit(events.shopify_product_update(doc, at))
        return doc

    def delete_product(self, handle: str) -> int:
        product = self.state.delete_product(handle)
        self.outbox.emit(events.shopify_product_delete(product.id, datetime.now(UTC)))
        return product.id

    async def reset(self) -> None:
        """Nothing pending: ERP changes not yet passed on are dropped, and so are undelivered webhooks."""
        self._cancel(None)
        await self.outbox.reset()

    async def close(self) -> None:
        self._cancel(None)
        await self.outbox.close()

    def _erp_changed(self, sku: str, old: int, new: int, reason: ErpReason) -> None:
        at = datetime.now(UTC)
        self.state.erp_sequence[sku] += 1
        self.outbox.emit(events.erp_stock_changed(sku, new, sequence=self.state.erp_sequence[sku], reason=reason,
                                                  at=at))
        delay_ms = self.outbox.settings.erp_sync_delay_ms
        if delay_ms == 0:
            self._pass_on(sku, new - old)
            return
        task = asyncio.create_task(self._pass_on_later(sku, new - old, delay_ms / 1000))
        self._passing_on[task] = sku
        task.add_done_callback(lambda done: self._passing_on.pop(done, None))

    async def _pass_on_later(self, sku: str, delta: int, after_s: float) -> None:
        await asyncio.sleep(after_s)
        self._pass_on(sku, delta)

    def _pass_on(self, sku: str, delta: int) -> None:
        self.set_inventory(sku, self.state.inventory_stock[sku] + delta)

    def _cancel(self, sku: str | None) -> None:
        for task, for_sku in list(self._passing_on.items()):
            if sku is None or for_sku == sku:
                task.cancel()
                self._passing_on.pop(task, None)


def admin_routes(systems: Systems) -> list[BaseRoute]:
    """The admin API of the systems' stock, prices and webhooks (mounted under /_admin)."""
    state, outbox = systems.state, systems.outbox

    def unknown_sku(sku: str) -> Response:
        return JSONResponse({"error": f"unknown sku {sku!r}"}, status_code=404)

    def stock_of(sku: str) -> Response:
        inventory = state.inventory_stock[sku]
        return JSONResponse({"sku": sku, "quantity": inventory, "inventory": inventory, "erp": state.erp_stock[sku]})

    async def stock(request: Request) -> Response:
        sku = request.path_params["sku"]
        if sku not in state.inventory_stock:
            return unknown_sku(sku)
        if request.method == "PUT":
            data = await _body(request)
            if not _is_int(data.get("quantity")):
                return _invalid('body must be {"quantity": integer}')
            systems.set_both(sku, data["quantity"])
        return stock_of(sku)

    async def inventory_stock(request: Request) -> Response:
        sku = request.path_params["sku"]
        if sku not in state.inventory_stock:
            return unknown_sku(sku)
        data = await _body(request)
        via = data.get("via", "commercetools")
        if not _is_int(data.get("quantity")) or via not in ("commercetools", "shopify"):
            return _invalid('body must be {"quantity": integer, "via"?: "commercetools" | "shopify"}')
        systems.set_inventory(sku, data["quantity"], Source(via))
        return stock_of(sku)

    async def erp_stock(request: Request) -> Response:
        sku = request.path_params["sku"]
        if sku not in state.erp_stock:
            return unknown_sku(sku)
        data = await _body(request)
        reason = data.get("reason", "restock")
        if not _is_int(data.get("quantity")) or reason not in ("restock", "return", "sale"):
            return _invalid('body must be {"quantity": integer, "reason"?: "restock" | "return" | "sale"}')
        systems.set_erp(sku, data["quantity"], ErpReason(reason))
        return stock_of(sku)

    async def price(request: Request) -> Response:
        sku = request.path_params["sku"]
        if sku not in state.by_sku:
            return unknown_sku(sku)
        raw = (await _body(request)).get("price")
        try:
            amount = Decimal(str(raw)).quantize(Decimal("0.01")) if isinstance(raw, str | int | float) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0 or isinstance(raw, bool):
            return _invalid('body must be {"price": "123.00"} (a decimal string, not negative)')
        root = f"{request.url.scheme}://{request.url.netloc}/catalog"
        doc = systems.set_price(sku, amount, root)
        return JSONResponse({"sku": sku, "price": f"{amount:.2f}", "product_id": doc["id"],
                             "updated_at": doc["updated_at"]})

    async def product(request: Request) -> Response:
        handle = request.path_params["handle"]
        if handle not in state.by_handle:
            return JSONResponse({"error": f"unknown product {handle!r}"}, status_code=404)
        return JSONResponse({"handle": handle, "id": systems.delete_product(handle), "deleted": True})

    async def webhooks(request: Request) -> Response:
        if request.method == "PUT":
            try:
                outbox.settings = outbox.settings.merged(await _body(request))
            except ValidationError as exc:
                return JSONResponse({"error": "invalid body",
                                     "details": exc.errors(include_url=False, include_input=False)}, status_code=422)
        return JSONResponse(outbox.status())

    async def deliveries(request: Request) -> Response:
        with contextlib.suppress(ValueError):
            limit = max(0, int(request.query_params.get("limit", "100")))
            return JSONResponse(list(outbox.log)[-limit:] if limit else [])
        return _invalid("limit must be an integer")

    return [
        Route("/stock/{sku}", stock, methods=["GET", "PUT"]),
        Route("/inventory/stock/{sku}", inventory_stock, methods=["PUT"]),
        Route("/erp/stock/{sku}", erp_stock, methods=["PUT"]),
        Route("/price/{sku}", price, methods=["PUT"]),
        Route("/products/{handle}", product, methods=["DELETE"]),
        Route("/webhooks", webhooks, methods=["GET", "PUT"]),
        Route("/webhooks/deliveries", deliveries, methods=["GET"]),
    ]


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=422)
