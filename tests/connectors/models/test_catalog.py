"""Products' price range and variant lookup; the frozen catalog values."""

from __future__ import annotations

import dataclasses

import pytest

from connectors.models import Money, Product, SelectedOption, StockLevel, Variant


def variant(variant_id: str, price: str) -> Variant:
    return Variant(id=variant_id, product_id="p", sku=f"SKU-{variant_id}", title=variant_id,
                   price=Money.of(price, "USD"), selected_options=(SelectedOption("Size", variant_id),))


def product(*variants: Variant) -> Product:
    return Product(id="p", handle="p", title="P", description="", description_html="", vendor="", product_type="",
                   tags=(), options=(), variants=variants, engravable=False)


def test_price_range_compares_amounts_not_text() -> None:
    ring = product(variant("a", "950"), variant("b", "10000"), variant("c", "1200.50"))
    assert (ring.min_price, ring.max_price) == (Money.of("950", "USD"), Money.of("10000", "USD"))


def test_one_variant_is_both_ends_of_the_range() -> None:
    single = product(variant("a", "99.99"))
    assert single.min_price == single.max_price == Money.of("99.99", "USD")


def test_a_product_without_variants_has_no_price() -> None:
    with pytest.raises(ValueError, match="empty"):
        _ = product().min_price


def test_variant_finds_by_id_or_answers_none() -> None:
    ring = product(variant("1", "5"), variant("2", "6"))
    found = ring.variant("2")
    assert found is not None
    assert found.sku == "SKU-2"
    assert ring.variant("3") is None
    assert ring.variant("") is None


def test_values_are_frozen_and_compare_by_value() -> None:
    level = StockLevel("A", available=1, on_hand=2)
    assert level == StockLevel("A", 1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        level.available = 5  # type: ignore[misc]
    assert hash(variant("1", "5")) == hash(variant("1", "5"))
