"""resolve_lines: the cart's input checks (line count, quantities, ids) before and after the catalog is asked."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.errors import InputError
from connectors.models import Freshness, Money, Product, SelectedOption, Source, Sourced, Variant
from resolvers.cart import MAX_LINES, MAX_QUANTITY, resolve_lines


@dataclass
class Line:
    variant_id: str
    quantity: int = 1


def variant(variant_id: str, product_id: str) -> Variant:
    return Variant(id=variant_id, product_id=product_id, sku=f"SKU-{variant_id}", title=variant_id,
                   price=Money.of("100", "USD"), selected_options=(SelectedOption("Size", variant_id),))


def product(product_id: str, *variant_ids: str) -> Sourced[Product]:
    value = Product(id=product_id, handle=product_id, title=product_id, description="", description_html="",
                    vendor="", product_type="", tags=(), options=(), engravable=False,
                    variants=tuple(variant(v, product_id) for v in variant_ids))
    return Sourced(value, Freshness(Source.LIVE, 0, "catalog"))


class Loader:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[list[str]] = []

    async def load_many(self, keys: list[str]) -> list[Any]:
        self.asked.append(keys)
        return [self.answers.get(k) for k in keys]


def context(*, variants: dict[str, str], products: dict[str, Sourced[Product]]) -> Any:
    loaders = SimpleNamespace(product_id_by_variant=Loader(variants), product_by_id=Loader(products))
    return SimpleNamespace(loaders=loaders)


def shop() -> Any:
    """Product 1 has variants 11 and 12, product 2 variant 21; the catalog index also knows a variant 99
    whose product no longer lists it."""
    return context(variants={"11": "1", "12": "1", "21": "2", "99": "2"},
                   products={"1": product("1", "11", "12"), "2": product("2", "21")})


async def field_of(lines: list[Line], ctx: Any = None) -> str | None:
    with pytest.raises(InputError) as caught:
        await resolve_lines(ctx or shop(), lines, "input")
    return caught.value.field


async def test_repeated_variants_are_merged_and_products_asked_once() -> None:
    ctx = shop()
    cart = await resolve_lines(ctx, [Line("gid://bezel/ProductVariant/11", 2), Line("21"), Line("11", 3),
                                     Line("12")], "input")
    assert [(line.variant.id, line.quantity) for line in cart] == [("11", 5), ("21", 1), ("12", 1)]
    assert ctx.loaders.product_by_id.asked == [["1", "2"]]


@pytest.mark.parametrize("count", [0, MAX_LINES + 1])
async def test_a_cart_holds_one_to_max_lines(count: int) -> None:
    ctx = shop()
    assert await field_of([Line("11")] * count, ctx) == "input.lines"
    assert ctx.loaders.product_id_by_variant.asked == []  # refused before the catalog is asked


async def test_a_full_cart_is_taken() -> None:
    ids = [str(100 + i) for i in range(MAX_LINES)]
    ctx = context(variants=dict.fromkeys(ids, "1"), products={"1": product("1", *ids)})
    cart = await resolve_lines(ctx, [Line(i, MAX_QUANTITY) for i in ids], "input")
    assert [(line.variant.id, line.quantity) for line in cart] == [(i, MAX_QUANTITY) for i in ids]


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1])
async def test_each_quantity_is_one_to_max(quantity: int) -> None:
    assert await field_of([Line("11"), Line("12", quantity)]) == "input.lines[1].quantity"


async def test_repeats_may_not_add_up_past_the_limit_either() -> None:
    assert await field_of([Line("11", MAX_QUANTITY), Line("11", 1)]) == "input.lines"


@pytest.mark.parametrize("variant_id", ["gid://bezel/Product/11", "gid://shopify/ProductVariant/11", "11a", ""])
async def test_an_id_that_is_not_a_variants_is_refused_on_its_line(variant_id: str) -> None:
    assert await field_of([Line("11"), Line(variant_id)]) == "input.lines[1].variantId"


async def test_an_unknown_variant_is_blamed_on_the_line_that_first_named_it() -> None:
    ctx = shop()
    with pytest.raises(InputError, match="No such product variant: 404") as caught:
        await resolve_lines(ctx, [Line("11"), Line("404"), Line("404")], "input")
    assert caught.value.field == "input.lines[1].variantId"
    assert ctx.loaders.product_by_id.asked == []  # no product fetched for a cart that cannot be priced


async def test_a_variant_its_product_no_longer_lists_is_unknown() -> None:
    assert await field_of([Line("21"), Line("99")]) == "input.lines[1].variantId"
    vanished = context(variants={"11": "1"}, products={})  # the product itself is gone
    assert await field_of([Line("11")], vanished) == "input.lines[0].variantId"
