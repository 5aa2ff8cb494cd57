"""ERP, WMS and CRM mapping: each document keyed by our order id, money as strings, the ERP's stock read."""

from __future__ import annotations

import dataclasses
import time

import pytest

from connectors.backoffice import CrmAPI, ErpAPI, Receipt, StockRecord, WmsAPI, read_error
from connectors.models import (
    Address,
    DownstreamSystem,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    PaymentAuthorization,
    Vendor,
)

USD = Money.of("18500", "USD")
ORDER = Order(
    id="ord_1", status=OrderStatus.CONFIRMED, created_at=time.time(), email="ada@example.com",
    ship_to=Address(country_code="US", zip="10001", province_code="NY", city="New York", line1="1 Main St"),
    lines=(OrderLine("11", "9", "ADE-S0650", "Art Deco", 2, USD, engraving_text="A & B"),), subtotal=USD.times(2),
    tax=Money.of("3283.75", "USD"), insurance=None, total=Money.of("40283.75", "USD"),
    payment=PaymentAuthorization("pi_1", "requires_capture", Money.of("40283.75", "USD")), reservation_id="r1",
    downstream_systems=(DownstreamSystem.ERP, DownstreamSystem.WMS, DownstreamSystem.CRM), financing_provider="affirm",
)


def test_the_erp_sales_order_is_keyed_by_our_order_id_with_money_as_strings() -> None:
    call = ErpAPI().sales_order(ORDER)
    assert (call.vendor, call.operation, call.idempotent) == (Vendor.ERP, "erp.sales_order", False)
    body = call.request.json
    assert (call.request.method, call.request.path, body["external_id"]) == ("POST", "/api/v1/sales-orders", "ord_1")
    assert body["lines"] == [{"sku": "ADE-S0650", "quantity": 2, "unit_price": {"amount": "18500.00",
                                                                                "currency": "USD"},
                              "engraving": "A & B"}]
    assert body["totals"]["total"] == {"amount": "40283.75", "currency": "USD"}
    assert body["payment"] == {"intent_id": "pi_1", "status": "requires_capture"}
    assert call.parse({"id": "SO-1001"}) == Receipt("erp", "SO-1001")


def test_the_wms_ships_insured_orders_with_the_insured_service() -> None:
    call = WmsAPI().fulfillment_order(ORDER)
    body = call.request.json
    assert (body["reference"], body["service"]) == ("ord_1", "signature")
    assert body["ship_to"] == {"line1": "1 Main St", "line2": None, "city": "New York", "state": "NY", "zip": "10001",
                               "country": "US"}
    assert body["items"] == [{"sku": "ADE-S0650", "quantity": 2, "engraving": "A & B"}]
    insured = WmsAPI().fulfillment_order(dataclasses.replace(ORDER, insurance=Money.of("95", "USD")))
    assert insured.request.json["service"] == "insured_signature"
    assert call.parse({"id": "FO-7"}) == Receipt("wms", "FO-7")


def test_the_crm_event_names_the_order_and_its_financing() -> None:
    call = CrmAPI().order_placed(ORDER)
    body = call.request.json
    assert (body["type"], body["external_id"], body["customer"]) == ("order_placed", "ord_1",
                                                                     {"email": "ada@example.com"})
    assert body["properties"] == {"total": {"amount": "40283.75", "currency": "USD"}, "items": ["ADE-S0650"],
                                  "financing_provider": "affirm"}
    assert call.idempotent is False


def test_the_erps_available_to_promise_is_read_by_sku() -> None:
    call = ErpAPI().available_to_promise(["A", "B"])
    assert (call.request.method, call.request.params, call.idempotent) == ("GET", {"skus": "A,B"}, True)
    items = {"items": [{"sku": "A", "on_hand": 3, "available": 1}, {"sku": "B", "on_hand": 0, "available": 0}]}
    assert call.parse(items) == {"A": StockRecord("A", 3, 1), "B": StockRecord("B", 0, 0)}
    assert call.parse({"items": []}) == {}


@pytest.mark.parametrize("body", [{}, {"items": {}}, {"items": [{"sku": "A", "on_hand": 3}]},
                                  {"items": [{"sku": "A", "on_hand": 3, "available": "1"}]}])
def test_a_stock_answer_of_the_wrong_shape_is_refused(body) -> None:
    with pytest.raises(ValueError, match=r"^(items|available): "):
        ErpAPI().available_to_promise(["A"]).parse(body)


def test_a_receipt_without_an_id_is_refused_and_errors_are_read() -> None:
    with pytest.raises(ValueError, match="id"):
        ErpAPI().sales_order(ORDER).parse({"status": "created"})
    error = read_error(409, {"error": {"code": "conflict", "message": "external_id reused"}})
    assert (error.code, error.message, error.rejected_field) == ("conflict", "external_id reused", None)
    assert read_error(500, {"error": {"message": "down"}}).code is None  # no code: none, not the text "None"
