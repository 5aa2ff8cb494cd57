"""Events and their changes: sources by name, defaults, and values that compare and hash (delivery dedupe)."""

from __future__ import annotations

import dataclasses

import pytest

from connectors.models import Event, EventSource, InventoryItemChanged, ProductChanged, StockChanged


def test_sources_are_the_names_webhooks_are_routed_by() -> None:
    assert EventSource("shopify") is EventSource.SHOPIFY
    assert {s.value for s in EventSource} == {"shopify", "commercetools", "erp"}
    with pytest.raises(ValueError, match="stripe"):
        EventSource("stripe")


def test_a_product_change_is_an_edit_unless_said_deleted() -> None:
    assert ProductChanged("1").deleted is False
    assert ProductChanged("1") != ProductChanged("1", deleted=True)


def test_inventory_item_ids_keep_every_digit() -> None:
    big = "44631442800765123"  # above 2**53: a float would change it
    assert InventoryItemChanged(big, 3).inventory_item_id == big


def test_events_are_frozen_and_hashable_with_their_changes() -> None:
    changes = (StockChanged("A", 1, None, "erp"), ProductChanged("9"))
    event = Event(EventSource.ERP, "stock.changed", "d1", "sku:A", 3.0, 100.0, changes)
    assert event == Event(EventSource.ERP, "stock.changed", "d1", "sku:A", 3.0, 100.0, changes)
    assert len({event, dataclasses.replace(event)}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.version = 4.0  # type: ignore[misc]
