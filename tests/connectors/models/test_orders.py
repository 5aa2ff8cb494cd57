"""An order line's total, and the order's values and statuses."""

from __future__ import annotations

import dataclasses

import pytest

from connectors.models import DownstreamState, DownstreamSystem, Money, OrderLine, OrderStatus, SyncStatus


def line(quantity: int, price: str) -> OrderLine:
    return OrderLine("v1", "p1", "SKU-1", "Ring (6)", quantity, Money.of(price, "USD"))


def test_a_lines_total_is_its_unit_price_times_quantity_in_cents() -> None:
    assert line(3, "33.33").total == Money.of("99.99", "USD")
    assert line(1, "18500").total == Money.of("18500", "USD")
    assert line(0, "5").total == Money.zero("USD")


def test_engraving_is_optional_and_lines_are_frozen() -> None:
    assert line(1, "1").engraving_text is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        line(1, "1").quantity = 2  # type: ignore[misc]


def test_statuses_read_as_their_graphql_names() -> None:
    assert OrderStatus("CONFIRMED") is OrderStatus.CONFIRMED
    assert [s.value for s in SyncStatus] == ["PENDING", "SYNCED", "FAILED"]


def test_a_downstream_state_defaults_to_no_error_and_no_time() -> None:
    state = DownstreamState(DownstreamSystem.ERP, SyncStatus.PENDING, 0)
    assert (state.last_error, state.updated_at) == (None, None)
    assert state != DownstreamState(DownstreamSystem.ERP, SyncStatus.PENDING, 1)
