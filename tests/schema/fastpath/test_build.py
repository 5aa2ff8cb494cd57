"""The generated builders of flat selections (schema/fastpath/build.py) do what graphql-core would
accept or hand back to it: a value built in one step, or NOT_FAST for anything it must handle."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from graphql import GraphQLFloat, GraphQLInt, GraphQLObjectType, GraphQLString

from schema.fastpath.build import build_all, compiled, complete
from schema.fastpath.plans import NOT_FAST, PASSTHROUGH, Flat, Leaf, Leaves, Selection

OBJECT = GraphQLObjectType("Thing", {})


def selection(*entries: tuple[str, Any]) -> Selection:
    made = Selection(entries)
    made.one = compiled(made)
    return made


MONEY = selection(("amount", Leaf("amount", GraphQLString, passthrough=PASSTHROUGH["String"])),
                  ("cents", Leaf("cents", GraphQLInt)))
ROW = selection(("sku", Leaf("sku", GraphQLString, passthrough=str)),
                ("weird", Leaf("from", GraphQLFloat)),  # a Python keyword as the attribute
                ("price", (Flat("price", OBJECT, is_list=False), MONEY)),
                ("prices", (Flat("prices", OBJECT, is_list=True), MONEY)),
                ("sizes", Leaves(Leaf("sizes", GraphQLInt))),
                ("names", Leaves(Leaf("names", GraphQLString, passthrough=str))))


def row(**changes: Any) -> Any:
    values = {"sku": "LUM-1", "from": 1, "price": SimpleNamespace(amount="10.00", cents=1000),
              "prices": [SimpleNamespace(amount="1.00", cents=100)], "sizes": (5, 6.0), "names": ["a", 7],
              **changes}
    return SimpleNamespace(**values)


def test_an_object_is_built_in_selection_order_with_leaves_serialized() -> None:
    built = ROW.one(row())
    assert built == {"sku": "LUM-1", "weird": 1.0, "price": {"amount": "10.00", "cents": 1000},
                     "prices": [{"amount": "1.00", "cents": 100}], "sizes": [5, 6], "names": ["a", "7"]}
    assert list(built) == ["sku", "weird", "price", "prices", "sizes", "names"]
    assert isinstance(built["weird"], float)


def test_a_value_of_another_type_is_serialized_not_passed_through() -> None:
    assert MONEY.one(SimpleNamespace(amount=12, cents=1))["amount"] == "12"


def test_anything_graphql_core_must_handle_is_handed_back() -> None:
    assert ROW.one(row(sku=None)) is NOT_FAST  # a null (its error, on a non-null field)
    assert ROW.one(row(price=None)) is NOT_FAST
    assert ROW.one(row(prices=[None])) is NOT_FAST
    assert ROW.one(row(prices="not a list")) is NOT_FAST
    assert ROW.one(row(**{"from": "not a number"})) is NOT_FAST  # a value the type refuses
    assert ROW.one(SimpleNamespace(sku="x")) is NOT_FAST  # no such attribute
    assert ROW.one(row(sizes=[1, None])) is NOT_FAST  # a null item (an error if the items are non-null)
    assert ROW.one(row(sizes=[1.5])) is NOT_FAST  # Int refuses 1.5
    assert ROW.one(row(names={"a"})) is NOT_FAST  # an iterable graphql-core walks itself
    assert ROW.one(row(names=None)) is NOT_FAST
    assert build_all(ROW, [row(), None]) is NOT_FAST
    assert complete(Flat("p", OBJECT, is_list=True), MONEY, (SimpleNamespace(amount="1", cents=2),)) == [
        {"amount": "1", "cents": 2}]


def test_an_empty_selection_builds_an_empty_object() -> None:
    assert selection().one(row()) == {}
