"""OnePlaceOrder: one placeOrder per mutation, however it is aliased or spread through fragments."""

from __future__ import annotations

from graphql import build_schema, parse, specified_rules, validate

from schema.rules import OnePlaceOrder

SCHEMA = build_schema("""
type Query { ok: Boolean }
type Result { id: ID }
type Mutation { placeOrder(key: String): Result  other: Boolean }
""")


def errors(text: str) -> list[str]:
    return [e.message for e in validate(SCHEMA, parse(text), [*specified_rules, OnePlaceOrder])]


ONE_ONLY = "An operation may place one order: send each placeOrder on its own."


def test_one_place_order_passes() -> None:
    assert errors('mutation { placeOrder(key: "a") { id } other }') == []


def test_aliased_place_orders_are_refused_once_at_the_second() -> None:
    document = parse('mutation { a: placeOrder(key: "a") { id } b: placeOrder(key: "b") { id } '
                     'c: placeOrder(key: "c") { id } }')
    found = validate(SCHEMA, document, [OnePlaceOrder])
    assert [e.message for e in found] == [ONE_ONLY]
    assert found[0].nodes is not None
    assert found[0].nodes[0].alias.value == "b"


def test_place_orders_hidden_in_fragments_count_too() -> None:
    text = """
    mutation { placeOrder(key: "a") { id } ...More ... on Mutation { c: placeOrder(key: "c") { id } } }
    fragment More on Mutation { b: placeOrder(key: "b") { id } }
    """
    assert errors(text) == [ONE_ONLY]


def test_each_operation_is_counted_on_its_own_and_queries_are_not() -> None:
    assert errors('mutation A { placeOrder(key: "a") { id } } mutation B { placeOrder(key: "b") { id } }') == []
    assert errors("query { a: ok b: ok c: ok }") == []
