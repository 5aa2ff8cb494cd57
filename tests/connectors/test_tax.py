"""TaxJar mapping: request shape, decimal dollars, and TaxJar's error bodies."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
import respx

from connectors import tax
from connectors.errors import VendorHTTPError, VendorRejectedInput
from connectors.models import Address, Money
from connectors.tax import TaxAPI, TaxLine
from tests.connectors.helpers import BASE, execute, sent_json

ORIGIN = Address(country_code="US", zip="10001", province_code="NY", city="New York", line1="580 Fifth Avenue")
TO = Address(country_code="US", zip="90210", province_code="CA", city="Beverly Hills")
TAXJAR_OK = {"tax": {"order_total_amount": 4250.0, "shipping": 0.0, "taxable_amount": 4250.0,
                     "amount_to_collect": 403.75, "rate": 0.095, "has_nexus": True, "freight_taxable": False,
                     "tax_source": "destination",
                     "jurisdictions": {"country": "US", "state": "CA", "county": "LOS ANGELES",
                                       "city": "BEVERLY HILLS"}}}


def quote_call():
    return TaxAPI(origin=ORIGIN).quote(TO, [TaxLine("AUR-1", 1, Money.of("4250", "USD"))], Money.zero("USD"))


@respx.mock(base_url=BASE, using="httpx")
async def test_a_quote_maps_taxjar_dollars_into_money(respx_mock) -> None:
    route = respx_mock.post("/v2/taxes").mock(return_value=httpx.Response(200, json=TAXJAR_OK))
    quote = await execute(tax, quote_call(), api_key="tj_key")
    assert quote.amount_to_collect == Money.of("403.75", "USD")
    assert quote.rate == Decimal("0.095")
    assert quote.jurisdiction.city == "BEVERLY HILLS"
    sent = sent_json(route)
    assert sent["from_zip"] == "10001"
    assert sent["to_zip"] == "90210"
    assert sent["to_state"] == "CA"
    assert sent["amount"] == "4250.00"
    assert sent["line_items"][0]["unit_price"] == "4250.00"
    assert route.calls.last.request.headers["authorization"] == "Bearer tj_key"


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ("to_zip 90210 is not used within to_state NY", "zip"),
        ("to_zip 9021 is not a valid US ZIP code", "zip"),
        ("to_state ZZ is not a Canadian province", "province_code"),
        ("to_country XX is not supported", "country_code"),
    ],
)
@respx.mock(base_url=BASE, using="httpx")
async def test_taxjar_400s_that_blame_the_destination_are_rejections(respx_mock, detail: str, field: str) -> None:
    respx_mock.post("/v2/taxes").mock(return_value=httpx.Response(
        400, json={"error": "Bad Request", "detail": detail, "status": 400}))
    with pytest.raises(VendorRejectedInput) as caught:
        await execute(tax, quote_call())
    assert caught.value.field == field
    assert "to_" not in caught.value.public_message  # our words, not TaxJar's


@pytest.mark.parametrize("status", [401, 403, 500, 503])
@respx.mock(base_url=BASE, using="httpx")
async def test_other_taxjar_errors_are_vendor_failures(respx_mock, status: int) -> None:
    respx_mock.post("/v2/taxes").mock(return_value=httpx.Response(
        status, json={"error": "Unauthorized", "detail": "Not authorized for route 'POST /v2/taxes'",
                      "status": status}))
    with pytest.raises(VendorHTTPError) as caught:
        await execute(tax, quote_call())
    assert caught.value.status == status


@pytest.mark.parametrize(
    "body",
    [
        {"tax": {**TAXJAR_OK["tax"], "amount_to_collect": "lots"}},
        {"tax": {**TAXJAR_OK["tax"], "has_nexus": "yes"}},
        {"tax": {k: v for k, v in TAXJAR_OK["tax"].items() if k != "rate"}},
        {"taxes": []},
        [],
    ],
)
@respx.mock(base_url=BASE, using="httpx")
async def test_schema_violations_are_bad_responses(respx_mock, body) -> None:
    from connectors.errors import VendorBadResponse

    respx_mock.post("/v2/taxes").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(VendorBadResponse):
        await execute(tax, quote_call())
