"""Affirm promos (cents) and Afterpay configuration (decimal strings), and each one's error body."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
import respx

from connectors import bnpl
from connectors.bnpl import AfterpayConfig, BnplAPI, afterpay_offer
from connectors.errors import VendorBadResponse, VendorHTTPError
from connectors.models import InstallmentInterval, Money
from tests.connectors.helpers import BASE, execute

AFFIRM = {"promo": {"id": "promo_set_default", "apr": "0.1999", "term_length": 36,
                    "ala": {"amount_cents": 12077, "currency": "USD"},
                    "ala_message": "As low as $120.77/mo with Affirm"},
          "terms": [{"term_length": 36, "apr": "0.1999", "installment_cents": 12077, "total_cents": 434772,
                     "currency": "USD"},
                    {"term_length": 6, "apr": "0", "installment_cents": 54167, "total_cents": 325002,
                     "currency": "USD"}]}

API = BnplAPI(affirm_public_key="sandbox_public")


@respx.mock(base_url=BASE, using="httpx")
async def test_affirm_terms_become_monthly_offers(respx_mock) -> None:
    route = respx_mock.get("/affirm/api/promos/v2/pk_live").mock(return_value=httpx.Response(200, json=AFFIRM))
    offers = await execute(bnpl, BnplAPI(affirm_public_key="pk_live").affirm_offers(Money.of("3250", "USD")))
    assert route.calls.last.request.url.params["amount"] == "325000"
    assert [o.installments for o in offers] == [36, 6]
    assert offers[0].message == "As low as $120.77/mo with Affirm"
    assert offers[0].installment_amount == Money.of("120.77", "USD")
    assert offers[0].apr == Decimal("0.1999")
    assert offers[1].interval is InstallmentInterval.MONTH
    assert offers[1].total_cost == Money.of("3250.02", "USD")


@respx.mock(base_url=BASE, using="httpx")
async def test_affirm_out_of_range_is_no_offer_but_a_missing_promo_key_is_a_bad_body(respx_mock) -> None:
    route = respx_mock.get("/affirm/api/promos/v2/sandbox_public")
    route.mock(return_value=httpx.Response(200, json={"promo": None, "terms": [], "reason": "amount_out_of_range"}))
    assert await execute(bnpl, API.affirm_offers(Money.of("50000", "USD"))) == ()
    route.mock(return_value=httpx.Response(200, json={"ok": True}))
    with pytest.raises(VendorBadResponse):
        await execute(bnpl, API.affirm_offers(Money.of("500", "USD")))


@respx.mock(base_url=BASE, using="httpx")
async def test_afterpay_configuration_and_its_error_body(respx_mock) -> None:
    route = respx_mock.get("/afterpay/v2/configuration")
    route.mock(return_value=httpx.Response(200, json={"minimumAmount": {"amount": "1.00", "currency": "USD"},
                                                      "maximumAmount": {"amount": "4000.00", "currency": "USD"}}))
    config = await execute(bnpl, API.afterpay_configuration(), api_key="dXNlcjpwYXNz")
    assert config.maximum == Money.of("4000", "USD")
    assert route.calls.last.request.headers["authorization"] == "Basic dXNlcjpwYXNz"
    route.mock(return_value=httpx.Response(401, json={"errorCode": "unauthorized", "errorId": "e1",
                                                      "message": "Credentials are required", "httpStatusCode": 401}))
    with pytest.raises(VendorHTTPError) as caught:
        await execute(bnpl, API.afterpay_configuration())
    assert caught.value.code == "unauthorized"


def test_afterpay_offer_is_four_payments_within_its_limits() -> None:
    config = AfterpayConfig(minimum=Money.of("1", "USD"), maximum=Money.of("4000", "USD"))
    offer = afterpay_offer(config, Money.of("385.01", "USD"))
    assert offer is not None
    assert offer.installments == 4
    assert offer.interval is InstallmentInterval.TWO_WEEKS
    assert offer.installment_amount == Money.of("96.26", "USD")  # rounded up: four payments cover the price
    assert afterpay_offer(config, Money.of("4000.01", "USD")) is None
    assert afterpay_offer(config, Money.of("100", "CAD")) is None
