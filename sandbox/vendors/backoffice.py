"""The back office that pulls orders after checkout: ERP, WMS and CRM, each idempotent by our order id.

    ERP  POST /api/v1/sales-orders        {external_id, lines: [{sku, quantity, unit_price}], ...}
                                          commits the stock deduction; a repeat returns the first
         GET  /api/v1/atp?skus=A,B        available to promise per SKU (for reconciliation)

The ERP's stock is its own (`SandboxState.erp_stock`): each line of a sales order lowers it at once and
sends the ERP's `stock.changed` webhook; the inventory system hears of it later (`sandbox.systems`).
    WMS  POST /api/v1/fulfillment-orders  {reference, ship_to, items}
    CRM  POST /api/v1/events              {type, external_id, customer: {email}, properties}

Loosely modeled on NetSuite sales orders, ShipBob fulfillment orders and Klaviyo events. Errors:
`{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import ErpReason, SandboxState


def error_body(status: int, path: str = "") -> dict[str, Any]:
    code = {401: "unauthorized", 404: "not_found", 409: "conflict", 429: "rate_limited"}.get(
        status, "internal_error" if status >= 500 else "invalid_request")
    return {"error": {"code": code, "message": code.replace("_", " ").capitalize() + "."}}


def _invalid(message: str) -> Response:
    return JSONResponse({"error": {"code": "invalid_request", "message": message}}, status_code=400)


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _receiver(state: SandboxState, vendor: str, id_field: str, prefix: str,
              apply: Callable[[dict[str, Any]], str | None] | None = None) -> Callable[[Request], Any]:
    """A POST handler storing documents by their external id; a repeat answers the first copy."""

    async def receive(request: Request) -> Response:
        body = await _json(request)
        if body is None or not isinstance(body.get(id_field), str):
            return _invalid(f"Body must be a JSON object with a string `{id_field}`.")
        store = state.received.setdefault(vendor, {})
        existing = store.get(body[id_field])
        if existing is not None:
            return JSONResponse(existing, status_code=200)
        if apply is not None and (problem := apply(body)) is not None:
            return _invalid(problem)
        doc = {"id": f"{prefix}-{hashlib.sha256(body[id_field].encode()).hexdigest()[:10].upper()}",
               id_field: body[id_field], "status": "received", "received_at": time.time(), "body": body}
        store[body[id_field]] = doc
        return JSONResponse(doc, status_code=201)

    return receive


def erp_routes(state: SandboxState) -> list[Route]:
    def commit(body: dict[str, Any]) -> str | None:
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines:
            return "A sales order needs lines."
        for line in lines:
            if not isinstance(line, dict) or line.get("sku") not in state.erp_stock:
                return f"Unknown item {line.get('sku') if isinstance(line, dict) else line!r}."
            if not isinstance(line.get("quantity"), int) or line["quantity"] < 1:
                return "Line quantities must be positive integers."
        for line in lines:  # may go below zero: a backorder the ERP must see
            sku = line["sku"]
            state.set_erp_level(sku, state.erp_stock[sku] - line["quantity"], ErpReason.SALES_ORDER)
        return None

    async def atp(request: Request) -> Response:
        skus = [s for s in request.query_params.get("skus", "").split(",") if s]
        if not skus or len(skus) > 500:
            return _invalid("Pass 1 to 500 comma-separated skus.")
        stock = state.erp_stock
        return JSONResponse({"items": [{"sku": s, "on_hand": stock[s], "available": max(0, stock[s])}
                                       for s in skus if s in stock]})

    return [
        Route("/api/v1/sales-orders", _receiver(state, "erp", "external_id", "SO", commit), methods=["POST"]),
        Route("/api/v1/atp", atp),
    ]


def wms_routes(state: SandboxState) -> list[Route]:
    return [Route("/api/v1/fulfillment-orders", _receiver(state, "wms", "reference", "FO"), methods=["POST"])]


def crm_routes(state: SandboxState) -> list[Route]:
    return [Route("/api/v1/events", _receiver(state, "crm", "external_id", "EV"), methods=["POST"])]
