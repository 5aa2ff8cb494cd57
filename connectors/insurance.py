"""Shipping-insurance connector: Onward's quote API, amounts in integer cents.

`POST /api/v1/quotes` with `{cart: {amount_insured: {cents, currency}, items}, shipping_address}`
answers `{id, token, price: {cents, currency}, coverage, expires_at}`. Errors are
`{"error": {"code", "message", "field"}}`; a 422 blames the request (destination, amount).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors import payload as p
from connectors.http import ProviderError, VendorCall, VendorRequest
from connectors.models import Address, InsuranceQuote, Money, Vendor

VENDOR = Vendor.INSURANCE
PROVIDER = "Onward"

_PUBLIC = {
    "unsupported_destination": ("country_code", "Shipping insurance is not available for this destination."),
    "amount_too_high": (None, "This order is above the online insurance limit; our concierge will quote it."),
    "unsupported_currency": (None, "Shipping insurance is not available in this currency."),
}


@dataclass(frozen=True, slots=True)
class InsuredItem:
    sku: str
    quantity: int
    unit_price: Money


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"x-api-key": api_key} if api_key else {}


def read_error(status: int, body: Any) -> ProviderError:
    error = p.obj(body, "error")
    code = error.get("code")
    message = str(error.get("message", ""))
    if status == 422 and code in _PUBLIC:
        field, public = _PUBLIC[code]
        return ProviderError(code=code, message=message, rejected_field=field or "", public_message=public)
    return ProviderError(code=code, message=message)


class InsuranceAPI:
    def quote(self, ship_to: Address, items: Sequence[InsuredItem]) -> VendorCall[InsuranceQuote]:
        currency = items[0].unit_price.currency
        insured = sum((i.unit_price.times(i.quantity) for i in items), Money.zero(currency))
        body = {
            "cart": {
                "amount_insured": {"cents": insured.minor, "currency": currency},
                "items": [
                    {"sku": i.sku, "quantity": i.quantity, "price": {"cents": i.unit_price.minor, "currency": currency}}
                    for i in items
                ],
            },
            "shipping_address": {"country": ship_to.country_code, "state": ship_to.province_code, "zip": ship_to.zip},
        }

        def parse(data: Any) -> InsuranceQuote:
            price = p.obj(data, "price")
            coverage = p.obj(data, "coverage")
            covered = p.obj(coverage, "amount")
            expires = p.opt_text(data, "expires_at")
            return InsuranceQuote(
                quote_id=p.text(data, "id"),
                token=p.text(data, "token"),
                premium=Money.from_minor(p.integer(price, "cents"), p.text(price, "currency")),
                insured_amount=Money.from_minor(p.integer(covered, "cents"), p.text(covered, "currency")),
                provider=PROVIDER,
                coverage=p.text(coverage, "type"),
                expires_at=datetime.fromisoformat(expires) if expires else None,
            )

        request = VendorRequest("POST", "/api/v1/quotes", json=body)
        return VendorCall(VENDOR, "insurance.quote", request, parse, result_type=InsuranceQuote)

    def bind_policy(self, *, order_id: str, quote_token: str, email: str) -> VendorCall[str]:
        """Bind cover for a placed order; Onward answers a repeat for the same order with the same policy."""
        body = {"order_id": order_id, "quote_token": quote_token, "customer_email": email}
        return VendorCall(VENDOR, "insurance.bind_policy", VendorRequest("POST", "/api/v1/policies", json=body),
                          lambda data: p.text(data, "id"), idempotent=False)
