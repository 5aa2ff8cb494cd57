"""OnePlaceOrder: one placeOrder per mutation, however it is aliased or spread through fragments; a limit's
rule names its limit."""

from __future__ import annotations

from graphql import build_schema, parse, specified_rules, validate
from strawberry.extensions import max_aliases, query_depth_limiter

from schema.rules import OnePlaceOrder, limit_rule

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


def test_a_limits_errors_name_the_key_they_are_over_and_other_errors_do_not() -> None:
    rules = [*specified_rules, limit_rule(query_depth_limiter.create_validator(0, None), "max_depth"),
             limit_rule(max_aliases.create_validator(1), "max_aliases")]
    found = validate(SCHEMA, parse("mutation M { a: placeOrder { id } b: other } query Q { x: ok y: ok nope }"), rules)
    assert {(e.message, (e.extensions or {}).get("limit")) for e in found} == {
        ("'M' exceeds maximum operation depth of 0", "max_depth"),
        ("4 aliases found. Allowed: 1", "max_aliases"),
        ("Cannot query field 'nope' on type 'Query'.", None),
    }
    assert limit_rule(max_aliases.create_validator(1), "max_aliases").__name__ == "MaxAliasesValidator[max_aliases]"
