"""Variant selection and stock status, without any vendor."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from connectors.errors import InputError, VendorTimeout
from connectors.models import (
    Freshness,
    Money,
    Product,
    ProductOption,
    SelectedOption,
    Source,
    Sourced,
    StockLevel,
    StockPath,
    StockStatus,
    Variant,
)
from resolvers.loaders import StockAnswer
from resolvers.products import _availability, pick_variant, stock_status, variant_by_selected_options


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


def _ctx(safety_stock: int = 3) -> Any:
    return SimpleNamespace(services=SimpleNamespace(safety_stock=safety_stock), note_partial=lambda *_: None)


def _level(available: int, source: Source = Source.LIVE) -> Sourced[StockLevel]:
    return Sourced(StockLevel("S1", available, available), Freshness(source, 0, "inventory"))


def test_a_page_never_shows_more_than_checkout_would_sell() -> None:
    """The piece just sold on another process: the inventory vendor still says 1, checkout's counter 0."""
    sold = _availability(_ctx(), StockAnswer(_level(1), held=0))
    assert (sold.status, sold.quantity, sold.confirmed, sold.path) == (StockStatus.OUT_OF_STOCK, 0, True,
                                                                       StockPath.CHECKOUT)
    assert sold.freshness.vendor == "checkout"
    held = _availability(_ctx(), StockAnswer(_level(5, Source.CACHE), held=2))  # two of five held by checkouts
    assert (held.status, held.quantity, held.path) == (StockStatus.LOW_STOCK, 2, StockPath.CHECKOUT)
    vendor = _availability(_ctx(), StockAnswer(_level(2), held=7))  # a shop sale the counter has not heard of
    assert (vendor.quantity, vendor.path) == (2, StockPath.LIVE_CHECK)
    unseeded = _availability(_ctx(), StockAnswer(_level(4, Source.CACHE), held=None))
    assert (unseeded.quantity, unseeded.path) == (4, StockPath.CACHE)


def test_when_checkout_cannot_say_the_vendor_s_word_is_not_confirmed() -> None:
    shown = _availability(_ctx(), StockAnswer(_level(1), held_unread=True))
    assert (shown.status, shown.confirmed) == (StockStatus.LOW_STOCK, False)


def test_with_the_vendor_down_a_counter_at_zero_is_still_known_sold_out() -> None:
    failed = VendorTimeout("inventory", "no answer")
    assert _availability(_ctx(), StockAnswer(failed, held=0)).status is StockStatus.OUT_OF_STOCK
    assert _availability(_ctx(), StockAnswer(failed, held=0)).confirmed is True
    unknown = _availability(_ctx(), StockAnswer(failed, held=2))
    assert (unknown.status, unknown.confirmed) == (StockStatus.UNKNOWN, False)  # checkout alone cannot say more
