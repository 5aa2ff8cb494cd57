"""Tax connector: TaxJar's `POST /v2/taxes` (SmartCalcs), decimal dollars in and out.

The order ships from the store's origin address (config) to the shopper. TaxJar errors are
`{"error": "Bad Request", "detail": "...", "status": 400}`; a 400 that blames the destination
(`to_zip`, `to_state`, `to_country`) is the shopper's input, and we say so in our own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors import payload as p
from connectors.http import ProviderError, VendorCall, VendorRequest, bearer
from connectors.models import Address, Jurisdiction, Money, TaxQuote, Vendor

VENDOR = Vendor.TAX

# TaxJar's field in `detail` -> (our Address field, what we tell the shopper)
_REJECTIONS = (
    ("is not used within to_state", "zip", "The ZIP code does not belong to the state or province given."),
    ("to_zip", "zip", "The ZIP or postal code is not valid."),
    ("to_state", "province_code", "The state or province is not valid for the country."),
    ("to_country", "country_code", "Sales tax cannot be estimated for this country."),
)


@dataclass(frozen=True, slots=True)
class TaxLine:
    id: str
    quantity: int
    unit_price: Money


auth_headers = bearer  # the provider takes `Authorization: Bearer <key>`


def read_error(status: int, body: Any) -> ProviderError:
    data = p.obj(body)
    detail = str(data.get("detail", ""))
    if status in (400, 422):
        for needle, field, message in _REJECTIONS:
            if needle in detail:
                return ProviderError(code=str(data.get("error")), message=detail, rejected_field=field,
                                     public_message=message)
    return ProviderError(code=str(data.get("error")), message=detail)


class TaxAPI:
    def __init__(self, *, origin: Address) -> None:
        self.origin = origin

    def quote(self, ship_to: Address, lines: Sequence[TaxLine], shipping: Money) -> VendorCall[TaxQuote]:
        currency = shipping.currency
        amount = sum((line.unit_price.times(line.quantity) for line in lines), Money.zero(currency))
        body = {
            "from_country": self.origin.country_code,
            "from_zip": self.origin.zip,
            "from_state": self.origin.province_code,
            "from_city": self.origin.city,
            "from_street": self.origin.line1,
            "to_country": ship_to.country_code,
            "to_zip": ship_to.zip,
            "to_state": ship_to.province_code,
            "to_city": ship_to.city,
            "to_street": ship_to.line1,
            "amount": str(amount.amount),
            "shipping": str(shipping.amount),
            "line_items": [
                {"id": line.id, "quantity": line.quantity, "unit_price": str(line.unit_price.amount)}
                for line in lines
            ],
        }
        request = VendorRequest("POST", "/v2/taxes", json={k: v for k, v in body.items() if v is not None})

        def parse(data: Any) -> TaxQuote:
            tax = p.obj(data, "tax")
            juris = p.obj(tax.get("jurisdictions") or {})
            return TaxQuote(
                amount_to_collect=Money.of(p.decimal(tax, "amount_to_collect"), currency),
                rate=p.decimal(tax, "rate"),
                taxable_amount=Money.of(p.decimal(tax, "taxable_amount"), currency),
                order_amount=Money.of(p.decimal(tax, "order_total_amount"), currency),
                shipping=Money.of(p.decimal(tax, "shipping"), currency),
                has_nexus=p.boolean(tax, "has_nexus"),
                jurisdiction=Jurisdiction(
                    country=p.opt_text(juris, "country") or ship_to.country_code,
                    state=p.opt_text(juris, "state"),
                    county=p.opt_text(juris, "county"),
                    city=p.opt_text(juris, "city"),
                ),
            )

        return VendorCall(VENDOR, "tax.quote", request, parse, result_type=TaxQuote)
