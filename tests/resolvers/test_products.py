"""Variant selection and stock status, without any vendor."""

from __future__ import annotations

import pytest

from connectors.errors import InputError
from connectors.models import Money, Product, ProductOption, SelectedOption, StockStatus, Variant
from resolvers.products import pick_variant, stock_status, variant_by_selected_options


def _product() -> Product:
    variants = tuple(
        Variant(id=str(i), product_id="1", sku=f"S{i}", title=f"{m} / {s}", price=Money.of(100 + i, "USD"),
                selected_options=(SelectedOption("Metal", m), SelectedOption("Size", s)))
        for i, (m, s) in enumerate([("Gold", "6"), ("Gold", "7"), ("Platinum", "6")])
    )
    return Product(id="1", handle="r", title="Ring", description="", description_html="", vendor="", product_type="",
                   tags=(), options=(ProductOption("Metal", ("Gold", "Platinum")), ProductOption("Size", ("6", "7"))),
                   variants=variants, engravable=True)


def test_selection_matches_all_options_in_any_order() -> None:
    chosen = variant_by_selected_options(_product(), [SelectedOption("Size", "7"), SelectedOption("Metal", "Gold")])
    assert chosen is not None
    assert chosen.sku == "S1"
    assert variant_by_selected_options(_product(), [SelectedOption("Size", "7"), SelectedOption("Metal", "Platinum")]
                                       ) is None  # a real combination nobody makes


def test_case_insensitive_only_when_asked() -> None:
    options = [SelectedOption("metal", "gold"), SelectedOption("SIZE", "6")]
    with pytest.raises(InputError):
        variant_by_selected_options(_product(), options)
    chosen = variant_by_selected_options(_product(), options, case_insensitive=True)
    assert chosen is not None
    assert chosen.sku == "S0"


def test_pick_variant_defaults_to_the_entry_price() -> None:
    assert pick_variant(_product(), None).sku == "S0"
    assert pick_variant(_product(), "gid://bezel/ProductVariant/2").sku == "S2"
    with pytest.raises(InputError):
        pick_variant(_product(), "gid://bezel/ProductVariant/99")


@pytest.mark.parametrize(("available", "status"), [(0, StockStatus.OUT_OF_STOCK), (1, StockStatus.LOW_STOCK),
                                                   (2, StockStatus.LOW_STOCK), (3, StockStatus.IN_STOCK)])
def test_stock_status_uses_the_safety_threshold(available: int, status: StockStatus) -> None:
    assert stock_status(available, safety_stock=3) is status
