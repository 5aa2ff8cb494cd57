"""Shipping-insurance vendor, imitating Onward's quote API (amounts in integer cents).

    POST /api/v1/quotes     {cart: {amount_insured: {cents, currency}, items}, shipping_address}
                            -> {id, token, price: {cents, currency}, coverage, expires_at}
    POST /api/v1/policies   {quote_token, order_id, customer_email}  (binds cover after an order)

Jewelry cover is priced at 1.1% of the insured value (minimum $2.50), up to $150,000 per
shipment, to US and Canadian addresses. Errors: `{"error": {"code", "message", "field"}}`.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import SandboxState

RATE_PER_MILLE = 11  # 1.1%
MIN_PREMIUM_CENTS = 250
MAX_INSURED_CENTS = 15_000_000
QUOTE_TTL = timedelta(minutes=30)
COUNTRIES = {"US", "CA"}


def error_body(status: int, path: str = "") -> dict[str, Any]:
    return _error(status)


def _error(status: int, code: str | None = None, message: str | None = None,
           field: str | None = None) -> dict[str, Any]:
    defaults = {401: ("unauthorized", "Missing or invalid API key."),
                429: ("rate_limited", "Too many requests."),
                404: ("not_found", "No such resource.")}
    dcode, dmessage = defaults.get(status, ("internal_error", "Something went wrong.") if status >= 500
                                   else ("invalid_request", "The request is invalid."))
    return {"error": {"code": code or dcode, "message": message or dmessage, "field": field}}


def _invalid(code: str, message: str, field: str) -> Response:
    return JSONResponse(_error(422, code, message, field), status_code=422)


def routes(state: SandboxState) -> list[Route]:
    async def quote(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            insured = body["cart"]["amount_insured"]
            cents = int(insured["cents"])
            currency = str(insured["currency"]).upper()
            address = body.get("shipping_address") or {}
            country = str(address.get("country", "")).upper()
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return JSONResponse(_error(400, "invalid_json", "Body must be a quote request."), status_code=400)
        if currency not in {"USD", "CAD"}:
            return _invalid("unsupported_currency", f"Currency {currency} is not supported.", "currency")
        if cents <= 0:
            return _invalid("invalid_amount", "amount_insured must be positive.", "amount")
        if cents > MAX_INSURED_CENTS:
            return _invalid("amount_too_high", "Shipments above $150,000 need a manual quote.", "amount")
        if country not in COUNTRIES:
            return _invalid("unsupported_destination", f"No cover for shipments to {country or 'unknown'}.",
                            "country")
        premium = max(MIN_PREMIUM_CENTS, (cents * RATE_PER_MILLE + 999) // 1000)
        digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        now = datetime.now(UTC)
        return JSONResponse({
            "id": f"quo_{digest[:20]}",
            "token": f"qt_{digest[20:44]}",
            "price": {"cents": premium, "currency": currency},
            "coverage": {"type": "jewelry_all_risk", "amount": {"cents": cents, "currency": currency},
                         "deductible": {"cents": 0, "currency": currency}},
            "carrier_requirements": ["signature_required", "adult_signature_over_5000"],
            "created_at": now.isoformat(),
            "expires_at": (now + QUOTE_TTL).isoformat(),
        })

    async def bind(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            order_id = str(body["order_id"])
            token = str(body["quote_token"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return JSONResponse(_error(400, "invalid_json", "Body must be a policy request."), status_code=400)
        existing = state.insurance_policies.get(order_id)
        if existing is not None:
            return JSONResponse(existing, status_code=200)
        policy = {"id": f"pol_{hashlib.sha256(order_id.encode()).hexdigest()[:16]}", "order_id": order_id,
                  "quote_token": token, "status": "bound", "bound_at": time.time()}
        state.insurance_policies[order_id] = policy
        return JSONResponse(policy, status_code=201)

    return [Route("/api/v1/quotes", quote, methods=["POST"]), Route("/api/v1/policies", bind, methods=["POST"])]
