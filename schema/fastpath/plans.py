"""What the fast path does for each field, worked out once per (type, field) and kept by the schema.

A `Leaf` is a plain scalar or enum attribute, serialized directly (`Leaves`: a list of them, like an
option's `values`); a `Flat` is a plain attribute holding an object (or a list of them) whose
selection may be built in one step. A resolver marked
`@prefetched("attr")` counts as plain whenever its answer already sits in `attr`. Anything else
(`None`) is left to graphql-core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
)
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema_converter import GraphQLCoreConverter

BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
NOT_FAST = object()


class Selection(list[tuple[str, Any]]):
    """A flat selection: (response key, leaf plan or (object plan, its own flat selection)) pairs,
    and `one`, its builder of one object (schema.fastpath.build), set once the selection is complete."""

    __slots__ = ("one",)
    one: Callable[[Any], Any]


F = TypeVar("F", bound=Callable[..., Any])
PREFETCHED = "_bezel_prefetched"


def prefetched(attribute: str) -> Callable[[F], F]:
    """Marks a resolver whose answer may already sit in `attribute` of its object: when it does, the
    fast path reads it like a plain field instead of calling the resolver."""

    def mark(resolver: F) -> F:
        setattr(resolver, PREFETCHED, attribute)
        return resolver

    return mark


@dataclass(frozen=True, slots=True)
class Leaf:
    attribute: str
    leaf: GraphQLScalarType | GraphQLEnumType
    # For strawberry enums: member -> GraphQL name. strawberry's serialize scans every value of the
    # enum comparing `.value`s (~2 us a leaf, 3-5% of a warm product page); a dict lookup does not.
    names: dict[Any, str] | None = None
    # For String, ID and Boolean: a value of exactly this Python type serializes to itself.
    passthrough: type | None = None

    def serialize(self, value: Any) -> Any:
        if self.names is not None:
            name = self.names.get(value)
            if name is not None:
                return name
        return serialize(self.leaf, value)


@dataclass(frozen=True, slots=True)
class Leaves:
    """A plain attribute holding a list of scalars or enums (`[String!]!`)."""

    item: Leaf

    @property
    def attribute(self) -> str:
        return self.item.attribute

    def serialize(self, value: Any) -> Any:
        """The list serialized, or NOT_FAST for graphql-core (not a list, a null item, a refused item)."""
        if value.__class__ is not list and value.__class__ is not tuple:
            return NOT_FAST
        item, passthrough = self.item, self.item.passthrough
        out = []
        for raw in value:
            if raw.__class__ is passthrough:
                out.append(raw)
                continue
            if raw is None:
                return NOT_FAST
            serialized = item.serialize(raw)
            if serialized is NOT_FAST:
                return NOT_FAST
            out.append(serialized)
        return out


@dataclass(frozen=True, slots=True)
class Flat:
    """A plain field returning an object type (or a list of them) whose selection may be flat."""

    attribute: str
    object_type: GraphQLObjectType
    is_list: bool


Plans = dict[str, dict[str, Leaf | Leaves | Flat | None]]  # object type name -> field name -> its plan


def serialize(leaf: GraphQLScalarType | GraphQLEnumType, value: Any) -> Any:
    try:
        serialized = leaf.serialize(value)
    except Exception:
        return NOT_FAST
    return NOT_FAST if serialized is None else serialized


def plan(plans: Plans, schema: Any, parent_type: GraphQLObjectType, node: Any) -> Leaf | Leaves | Flat | None:
    """What to do for this field, worked out once per (type, field) and kept in `plans` (the schema's,
    `schema.fastpath.caches`)."""
    if node.arguments or (node.directives and any(d.name.value not in {"include", "skip"} for d in node.directives)):
        return None  # (@include/@skip are applied while collecting fields, before execution)
    of_type = plans.get(parent_type.name)
    if of_type is None:
        of_type = plans[parent_type.name] = {}
    name = node.name.value
    if name not in of_type:
        of_type[name] = _makeplan(schema, parent_type, name)
    return of_type[name]


def _makeplan(schema: Any, parent_type: GraphQLObjectType, name: str) -> Leaf | Leaves | Flat | None:
    field_def = schema.get_field(parent_type, name)
    if field_def is None or field_def.args:
        return None
    strawberry_field = (field_def.extensions or {}).get(BACKREF)
    if is_default_resolver(field_def.resolve):
        attribute = getattr(strawberry_field, "python_name", None)
    else:
        # A resolver marked @prefetched reads like a plain field when its answer is already there.
        resolver = getattr(getattr(strawberry_field, "base_resolver", None), "wrapped_func", None)
        attribute = getattr(resolver, PREFETCHED, None)
    if attribute is None:
        return None
    kind = unwrap(field_def.type)
    if isinstance(kind, GraphQLEnumType):
        return Leaf(attribute, kind, enum_names(kind))
    if isinstance(kind, GraphQLScalarType):
        return Leaf(attribute, kind, passthrough=PASSTHROUGH.get(kind.name) if kind in BUILT_IN else None)
    if isinstance(kind, GraphQLObjectType):
        return Flat(attribute, kind, is_list=False)
    if isinstance(kind, GraphQLList):
        item = unwrap(kind.of_type)
        if isinstance(item, GraphQLObjectType):
            return Flat(attribute, item, is_list=True)
        if isinstance(item, GraphQLEnumType):
            return Leaves(Leaf(attribute, item, enum_names(item)))
        if isinstance(item, GraphQLScalarType):
            return Leaves(Leaf(attribute, item, passthrough=PASSTHROUGH.get(item.name) if item in BUILT_IN else None))
    return None


def enum_names(enum_type: GraphQLEnumType) -> dict[Any, str] | None:
    """Python enum member -> GraphQL name, as strawberry's CustomGraphQLEnumType would serialize it."""
    wrapped = getattr(enum_type, "wrapped_cls", None)
    if wrapped is None:
        return None
    by_value = {definition.value: name for name, definition in enum_type.values.items()}
    return {member: by_value[member.value] for member in wrapped if member.value in by_value}


BUILT_IN = (GraphQLString, GraphQLID, GraphQLBoolean)
PASSTHROUGH = {"String": str, "ID": str, "Boolean": bool}


def unwrap(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_
