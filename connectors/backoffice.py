"""Back-office connectors the order stream feeds: ERP sales orders, WMS fulfillment, CRM events.

Each call is keyed by our order id (`external_id` / `reference`), and each system answers a repeat
with the document it already has, so a redelivered stream entry never creates a second sales order.
Errors are `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors import payload as p
from connectors.http import ProviderError, VendorCall, VendorRequest, bearer
from connectors.models import Order, Vendor


@dataclass(frozen=True, slots=True)
class Receipt:
    """A back-office system's id for our document."""

    system: str
    document_id: str


@dataclass(frozen=True, slots=True)
class StockRecord:
    sku: str
    on_hand: int
    available: int


auth_headers = bearer  # the provider takes `Authorization: Bearer <key>`


def read_error(status: int, body: Any) -> ProviderError:
    error = p.obj(body, "error")
    code = error.get("code")
    return ProviderError(code=str(code) if code is not None else None, message=str(error.get("message", "")))


def _receipt(system: str) -> Any:
    return lambda data: Receipt(system, p.text(data, "id"))


class ErpAPI:
    def sales_order(self, order: Order) -> VendorCall[Receipt]:
        body = {
            "external_id": order.id,
            "customer": {"email": order.email},
            "lines": [{"sku": line.sku, "quantity": line.quantity, "unit_price": line.unit_price.as_json(),
                       "engraving": line.engraving_text} for line in order.lines],
            "totals": {"subtotal": order.subtotal.as_json(), "tax": order.tax.as_json(),
                       "total": order.total.as_json()},
            "payment": {"intent_id": order.payment.intent_id, "status": order.payment.status},
        }
        # A write, but keyed by our order id: the ERP answers a repeat with the first document.
        return VendorCall(Vendor.ERP, "erp.sales_order", VendorRequest("POST", "/api/v1/sales-orders", json=body),
                          _receipt(Vendor.ERP), idempotent=False)

    def available_to_promise(self, skus: Sequence[str]) -> VendorCall[dict[str, StockRecord]]:
        request = VendorRequest("GET", "/api/v1/atp", params={"skus": ",".join(skus)})

        def parse(data: Any) -> dict[str, StockRecord]:
            return {
                p.text(item, "sku"): StockRecord(p.text(item, "sku"), p.integer(item, "on_hand"),
                                                 p.integer(item, "available"))
                for item in p.seq(data, "items")
            }

        return VendorCall(Vendor.ERP, "erp.atp", request, parse)


class WmsAPI:
    def fulfillment_order(self, order: Order) -> VendorCall[Receipt]:
        a = order.ship_to
        body = {
            "reference": order.id,
            "ship_to": {"line1": a.line1, "line2": a.line2, "city": a.city, "state": a.province_code, "zip": a.zip,
                        "country": a.country_code},
            "items": [{"sku": line.sku, "quantity": line.quantity, "engraving": line.engraving_text}
                      for line in order.lines],
            "service": "insured_signature" if order.insurance is not None else "signature",
        }
        return VendorCall(Vendor.WMS, "wms.fulfillment_order",
                          VendorRequest("POST", "/api/v1/fulfillment-orders", json=body), _receipt(Vendor.WMS),
                          idempotent=False)


class CrmAPI:
    def order_placed(self, order: Order) -> VendorCall[Receipt]:
        body = {
            "type": "order_placed",
            "external_id": order.id,
            "customer": {"email": order.email},
            "properties": {"total": order.total.as_json(), "items": [line.sku for line in order.lines],
                           "financing_provider": order.financing_provider},
        }
        return VendorCall(Vendor.CRM, "crm.order_placed", VendorRequest("POST", "/api/v1/events", json=body),
                          _receipt(Vendor.CRM), idempotent=False)
