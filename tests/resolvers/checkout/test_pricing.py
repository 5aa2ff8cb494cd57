"""Pricing an order from the sandbox's vendors, never from the client: catalog prices, tax and insurance, the
engraving and financing checked, the order ceiling, and how old a price may be."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from connectors.models import Money
from resolvers.checkout.outcome import Stop
from resolvers.checkout.pricing import Priced, price, price_age_limit_s, refuse_if_over_ceiling
from resolvers.context import RequestContext
from tests.support import Shop, shop_in_process


@dataclass
class Line:
    variant_id: str
    quantity: int = 1
    engraving_text: str | None = None


@dataclass
class Address:
    country_code: str = "US"
    zip: str = "10001"
    province_code: str | None = "NY"
    city: str | None = "New York"
    line1: str | None = "1 Main St"
    line2: str | None = None


@dataclass
class Request:
    lines: list[Line]
    ship_to: Address = field(default_factory=Address)
    insure: bool | None = None
    financing_provider: str | None = None


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        yield shop


def variant(shop: Shop, handle: str) -> tuple[str, Decimal]:
    v = shop.sandbox.sandbox.by_handle[handle].variants[0]
    return str(v.id), v.price


def ctx(shop: Shop) -> RequestContext:
    return RequestContext.start(shop.services, budget_ms=5000)


async def refusal(shop: Shop, request: Request) -> tuple[str, tuple[str, ...] | None]:
    with pytest.raises(Stop) as caught:
        await price(ctx(shop), request)  # type: ignore[arg-type]
    assert caught.value.keep is False
    [error] = caught.value.result.user_errors
    return error.code, error.field


async def test_lines_are_priced_from_the_catalog_and_totalled_with_tax_and_insurance(shop: Shop) -> None:
    hoops, unit = variant(shop, "gold-huggie-hoops")
    priced = await price(ctx(shop), Request([Line(hoops, 2)]))  # type: ignore[arg-type]
    [line] = priced.lines
    assert (line.unit_price, line.quantity) == (Money.of(unit, "USD"), 2)
    assert priced.subtotal == Money.of(unit * 2, "USD")
    assert priced.insurance is not None
    assert priced.insurance.premium.amount > 0
    assert priced.tax.amount_to_collect.amount > 0  # New York has nexus
    assert priced.total == priced.subtotal + priced.tax.amount_to_collect + priced.insurance.premium
    uninsured = await price(ctx(shop), Request([Line(hoops, 2)], insure=False))  # type: ignore[arg-type]
    assert uninsured.insurance is None
    assert uninsured.total == uninsured.subtotal + uninsured.tax.amount_to_collect


async def test_unknown_variants_and_bad_addresses_are_invalid_input(shop: Shop) -> None:
    hoops, _ = variant(shop, "gold-huggie-hoops")
    assert await refusal(shop, Request([Line("999999999")])) == ("INVALID_INPUT", ("lines", "0", "variantId"))
    code, path = await refusal(shop, Request([Line(hoops)], ship_to=Address(country_code="")))
    assert code == "INVALID_INPUT"
    assert path is not None
    assert path[0] == "shipTo"


async def test_engraving_is_checked_on_its_own_line(shop: Shop) -> None:
    hoops, _ = variant(shop, "gold-huggie-hoops")  # not engravable
    band, _ = variant(shop, "classic-comfort-band")
    assert await refusal(shop, Request([Line(band), Line(hoops, engraving_text="Forever")])) == (
        "INVALID_INPUT", ("lines", "1", "engravingText"))
    priced = await price(ctx(shop), Request([Line(band, engraving_text="Forever")]))  # type: ignore[arg-type]
    assert priced.lines[0].engraving_text == "Forever"


async def test_financing_must_be_a_configured_provider_that_finances_the_total(shop: Shop) -> None:
    hoops, _ = variant(shop, "gold-huggie-hoops")
    assert await refusal(shop, Request([Line(hoops)], financing_provider="klarna")) == (
        "INVALID_INPUT", ("financingProvider",))


async def test_a_vendor_that_cannot_answer_makes_checkout_unavailable(shop: Shop) -> None:
    hoops, _ = variant(shop, "gold-huggie-hoops")
    shop.fault("tax", status=503)
    assert await refusal(shop, Request([Line(hoops)], insure=False)) == ("CHECKOUT_UNAVAILABLE", None)


async def test_an_order_above_the_ceiling_is_refused(shop: Shop) -> None:
    hoops, _ = variant(shop, "gold-huggie-hoops")
    priced = await price(ctx(shop), Request([Line(hoops)], insure=False))  # type: ignore[arg-type]
    refuse_if_over_ceiling(priced, priced.total.amount)  # at the ceiling: taken
    with pytest.raises(Stop) as caught:
        refuse_if_over_ceiling(priced, priced.total.amount - Decimal("0.01"))
    assert [(e.code, e.field) for e in caught.value.result.user_errors] == [("ORDER_TOO_LARGE", ("lines",))]


def test_priced_total_adds_nothing_for_no_insurance() -> None:
    usd = Money.of("10", "USD")
    tax = type("Tax", (), {"amount_to_collect": Money.of("1", "USD")})()
    assert Priced(None, [], usd, tax, None).total == Money.of("11", "USD")  # type: ignore[arg-type]


async def test_prices_may_be_as_old_as_configured_or_the_catalogs_windows(shop: Shop) -> None:
    assert price_age_limit_s(ctx(shop)) == 60 + 300  # the catalog's cache_ttl_s + revalidate_s
    shop.services.checkout = shop.services.checkout.model_copy(update={"max_price_age_s": 5})
    assert price_age_limit_s(ctx(shop)) == 5
