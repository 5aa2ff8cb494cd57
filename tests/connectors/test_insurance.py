"""Onward mapping: cents both ways, quote fields, and 422s that blame the destination."""

from __future__ import annotations

import httpx
import pytest
import respx

from connectors import insurance
from connectors.errors import VendorHTTPError, VendorRejectedInput
from connectors.insurance import InsuranceAPI, InsuredItem
from connectors.models import Address, Money
from tests.connectors.helpers import BASE, execute, sent_json

TO = Address(country_code="US", zip="10001", province_code="NY")
ITEMS = [InsuredItem("AUR-1", 2, Money.of("4250.00", "USD"))]


@respx.mock(base_url=BASE, using="httpx")
async def test_a_quote_sends_and_reads_cents(respx_mock) -> None:
    route = respx_mock.post("/api/v1/quotes").mock(return_value=httpx.Response(200, json={
        "id": "quo_1", "token": "qt_1", "price": {"cents": 9350, "currency": "USD"},
        "coverage": {"type": "jewelry_all_risk", "amount": {"cents": 850000, "currency": "USD"}},
        "expires_at": "2026-11-22T16:19:09+00:00"}))
    quote = await execute(insurance, InsuranceAPI().quote(TO, ITEMS), api_key="onw_1")
    assert quote.premium == Money.of("93.50", "USD")
    assert quote.insured_amount == Money.of("8500", "USD")
    assert quote.expires_at is not None
    assert quote.provider == "Onward"
    sent = sent_json(route)
    assert sent["cart"]["amount_insured"] == {"cents": 850000, "currency": "USD"}
    assert sent["cart"]["items"][0]["price"] == {"cents": 425000, "currency": "USD"}
    assert route.calls.last.request.headers["x-api-key"] == "onw_1"


@pytest.mark.parametrize(("code", "field"), [("unsupported_destination", "country_code"), ("amount_too_high", None)])
@respx.mock(base_url=BASE, using="httpx")
async def test_422s_are_rejections_in_our_words(respx_mock, code: str, field: str | None) -> None:
    respx_mock.post("/api/v1/quotes").mock(return_value=httpx.Response(
        422, json={"error": {"code": code, "message": "vendor words", "field": "x"}}))
    with pytest.raises(VendorRejectedInput) as caught:
        await execute(insurance, InsuranceAPI().quote(TO, ITEMS))
    assert caught.value.field == field
    assert caught.value.public_message != "vendor words"


@respx.mock(base_url=BASE, using="httpx")
async def test_other_errors_are_failures(respx_mock) -> None:
    respx_mock.post("/api/v1/quotes").mock(return_value=httpx.Response(
        500, json={"error": {"code": "internal_error", "message": "boom", "field": None}}))
    with pytest.raises(VendorHTTPError) as caught:
        await execute(insurance, InsuranceAPI().quote(TO, ITEMS))
    assert caught.value.code == "internal_error"
