"""Money and Freshness as GraphQL shows them, and `selects`: what a field's selection asks for now."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import FieldNode, OperationDefinitionNode, parse

from connectors import models
from schema.common import Freshness, FreshnessSource, Money, selects


def test_money_always_shows_two_decimals() -> None:
    shown = Money.from_domain(models.Money(Decimal("5"), "USD"))
    assert (shown.amount, shown.currency_code) == ("5.00", "USD")
    assert Money.from_domain(models.Money.of("1234.5", "eur")).amount == "1234.50"


@pytest.mark.parametrize("source", list(models.Source))
def test_every_freshness_source_has_its_graphql_value(source: models.Source) -> None:
    shown = Freshness.from_domain(models.Freshness(source, 1500, "inventory"))
    assert (shown.source, shown.age_ms, shown.vendor) == (FreshnessSource[source.name], 1500, "inventory")


def info(text: str) -> Any:
    """A resolver's info for the first field of the document's operation."""
    document = parse(text)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    field = operation.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    return SimpleNamespace(_raw_info=SimpleNamespace(field_nodes=[field], fragments=fragments))


def test_a_field_asked_directly_or_through_fragments_is_selected() -> None:
    assert selects(info("{ product { title variants { sku } } }"), "variants")
    assert selects(info("{ product { ... on Product { variants { sku } } } }"), "variants")
    assert selects(info("{ product { ...F } } fragment F on Product { ...G } fragment G on Product { variants }"),
                   "variants")


def test_a_field_only_nested_deeper_or_absent_is_not_selected() -> None:
    assert not selects(info("{ product { title variants { availability } } }"), "availability")
    assert not selects(info("{ product { title } }"), "variants")
    assert not selects(info("{ product { ...Missing } }"), "variants")


def test_a_deferred_fragment_is_not_selected_unless_its_defer_is_off() -> None:
    assert not selects(info("{ product { ... @defer { variants } } }"), "variants")
    assert not selects(info("{ product { ...F @defer } } fragment F on Product { variants }"), "variants")
    assert not selects(info("{ product { ... @defer(if: $d) { variants } } }"), "variants")  # may be deferred
    assert selects(info("{ product { ... @defer(if: false) { variants } } }"), "variants")
