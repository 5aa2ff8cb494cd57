"""A faster path through graphql-core for plain fields: scalars, enums, and small flat objects.

graphql-core spends ~5 us on every field: a ResolveInfo object, argument coercion, the resolver call,
awaitable checks, then type dispatch to serialize the value. A product page is mostly such fields
(`sku`, `price { amount currencyCode }`, `selectedOptions { name value }` ... on every variant: 4,700
of them for a 220-variant ring), and most of them are plain attributes: strawberry fields with no
resolver, no arguments, no extensions.

For those, and only when no extension hooks field resolution, this execution context reads the
attribute and serializes it directly; an object (or list of objects) whose selected sub-fields are
all such leaves is built in one step, whether a plain field or a resolver returned it (a product's
`variants` list). Which selections are flat is worked out once per document, unless a directive
takes a variable (`@include(if: $x)`): then it is worked out per request. Anything else (a
resolver, arguments, `__typename`, a null value, a value its type refuses, a fragment or directive
beyond @include/@skip) takes graphql-core's own path, so results and errors are exactly what
graphql-core would produce; a test executes every query of the suite both ways and compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from graphql import (
    BREAK,
    DirectiveNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
    VariableNode,
    Visitor,
    visit,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
_NOT_FAST = object()
# A flat selection: (response key, leaf plan or (object plan, its own flat selection)) pairs.
_Selection = list[tuple[str, Any]]


@dataclass(frozen=True, slots=True)
class _Leaf:
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
        return _serialize(self.leaf, value)


@dataclass(frozen=True, slots=True)
class _Flat:
    """A plain field returning an object type (or a list of them) whose selection may be flat."""

    attribute: str
    object_type: GraphQLObjectType
    is_list: bool


class FastLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._flat_selections: dict[int, tuple[Any, _Selection | None]] = {}
        self._fast = not (self.middleware_manager and getattr(self.middleware_manager, "middlewares", None))
        self._shared: dict[tuple[Any, ...], _Selection | None] | None = None
        if self._fast:
            self._shared = _shared_selections(self.operation, self.fragments)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        if self._fast:
            plan = _plan(self.schema, parent_type, field_details_list[0].node)
            if plan is not None:
                result = self._fast_value(plan, source, field_details_list)
                if result is not _NOT_FAST:
                    return result
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A resolver's object whose selection is flat is built in one step (e.g. `priceRange`)."""
        if self._fast:
            selection = self._flat_selection(return_type, field_details_list)
            if selection is not None:
                built = _build(selection, result)
                if built is not _NOT_FAST:
                    return built
        return super().complete_object_value(return_type, field_details_list, info, path, result,
                                             position_context)

    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A resolver's list of objects whose selection is flat is built in one step: a product's
        `variants` come from a resolver, and completing each through graphql-core was half the page."""
        if self._fast and isinstance(result, list | tuple):
            item_type = _unwrap(return_type.of_type)
            if isinstance(item_type, GraphQLObjectType):
                selection = self._flat_selection(item_type, field_details_list)
                if selection is not None:
                    built = _build_all(selection, result)
                    if built is not _NOT_FAST:
                        return built
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)

    def _fast_value(self, plan: _Leaf | _Flat, source: Any, field_details_list: Any) -> Any:
        value = getattr(source, plan.attribute, None)
        if value is None:
            return _NOT_FAST  # nulls (and their errors on non-null fields) go graphql-core's way
        if isinstance(plan, _Leaf):
            return plan.serialize(value)
        selection = self._flat_selection(plan.object_type, field_details_list)
        if selection is None:
            return _NOT_FAST
        return _complete(plan, selection, value)

    def _flat_selection(self, object_type: GraphQLObjectType, field_details_list: Any) -> _Selection | None:
        """The selection on `object_type` if it is made only of plain leaves and flat objects, else None.

        Memoized on the identity of the field list, as graphql-core memoizes collected sub-fields."""
        cached = self._flat_selections.get(id(field_details_list))
        if cached is not None:
            return cached[1]
        shared_key = None
        if self._shared is not None:
            shared_key = (object_type.name, *[id(details.node) for details in field_details_list])
            if shared_key in self._shared:
                selection = self._shared[shared_key]
                self._flat_selections[id(field_details_list)] = (field_details_list, selection)
                return selection
        selection = None
        if object_type.is_type_of is None:
            grouped, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
            if not defer_usages:
                selection = []
                for key, details in grouped.items():
                    sub_plan = _plan(self.schema, object_type, details[0].node)
                    if isinstance(sub_plan, _Flat):
                        nested = self._flat_selection(sub_plan.object_type, details)
                        if nested is None:
                            selection = None
                            break
                        selection.append((key, (sub_plan, nested)))
                    elif isinstance(sub_plan, _Leaf):
                        selection.append((key, sub_plan))
                    else:
                        selection = None
                        break
        self._flat_selections[id(field_details_list)] = (field_details_list, selection)
        if shared_key is not None:
            self._shared[shared_key] = selection  # type: ignore[index]
        return selection


# Flat selections kept across requests. The document cache hands every request the same AST, so a
# selection is known by its nodes' identities; unless a directive takes a variable, @include/@skip
# cannot change it between requests. Each entry holds its operation and fragments, so ids stay unique.
_SHARED: LRUCache[int, tuple[Any, Any, dict[tuple[Any, ...], _Selection | None] | None]] = LRUCache(maxsize=256)


def _shared_selections(operation: Any, fragments: Any) -> dict[tuple[Any, ...], _Selection | None] | None:
    """The operation's shared selections, or None when variables steer its directives."""
    entry = _SHARED.get(id(operation))
    if entry is None or entry[0] is not operation:
        steered = bool(operation.variable_definitions) and _directives_take_variables(operation, fragments)
        entry = (operation, fragments, None if steered else {})
        _SHARED[id(operation)] = entry
    return entry[2]


class _DirectiveVariables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        if any(isinstance(argument.value, VariableNode) for argument in node.arguments or ()):
            self.found = True
            return BREAK
        return None


def _directives_take_variables(operation: Any, fragments: Any) -> bool:
    finder = _DirectiveVariables()
    for node in (operation, *(fragments or {}).values()):
        visit(node, finder)
        if finder.found:
            return True
    return False


def _serialize(leaf: GraphQLScalarType | GraphQLEnumType, value: Any) -> Any:
    try:
        serialized = leaf.serialize(value)
    except Exception:
        return _NOT_FAST
    return _NOT_FAST if serialized is None else serialized


def _complete(plan: _Flat, selection: _Selection, value: Any) -> Any:
    """An object (or list of objects) built from a flat selection, or _NOT_FAST for graphql-core."""
    if not plan.is_list:
        return _build(selection, value)
    if not isinstance(value, list | tuple):
        return _NOT_FAST
    return _build_all(selection, value)


def _build_all(selection: _Selection, items: list[Any] | tuple[Any, ...]) -> Any:
    out = []
    for item in items:
        built = _build(selection, item) if item is not None else _NOT_FAST
        if built is _NOT_FAST:
            return _NOT_FAST
        out.append(built)
    return out


def _build(selection: _Selection, value: Any) -> Any:
    out = {}
    for key, entry in selection:
        if entry.__class__ is _Leaf:
            raw = getattr(value, entry.attribute, None)
            if raw.__class__ is entry.passthrough:
                out[key] = raw
                continue
            if raw is None:
                return _NOT_FAST
            completed = entry.serialize(raw)
        else:
            nested_plan, nested_selection = entry
            raw = getattr(value, nested_plan.attribute, None)
            if raw is None:
                return _NOT_FAST
            completed = _complete(nested_plan, nested_selection, raw)
        if completed is _NOT_FAST:
            return _NOT_FAST
        out[key] = completed
    return out


def _plan(schema: Any, parent_type: GraphQLObjectType, node: Any) -> _Leaf | _Flat | None:
    """What to do for this field, worked out once per (type, field) and kept on the type."""
    if node.arguments or (node.directives and any(d.name.value not in {"include", "skip"} for d in node.directives)):
        return None  # (@include/@skip are applied while collecting fields, before execution)
    plans: dict[str, _Leaf | _Flat | None] | None = parent_type.__dict__.get("_bezel_plans")
    if plans is None:
        plans = {}
        parent_type._bezel_plans = plans  # type: ignore[attr-defined]
    name = node.name.value
    if name not in plans:
        plans[name] = _make_plan(schema, parent_type, name)
    return plans[name]


def _make_plan(schema: Any, parent_type: GraphQLObjectType, name: str) -> _Leaf | _Flat | None:
    field_def = schema.get_field(parent_type, name)
    if field_def is None or field_def.args:
        return None
    strawberry_field = (field_def.extensions or {}).get(BACKREF)
    if getattr(field_def.resolve, "_is_default", False):
        attribute = getattr(strawberry_field, "python_name", None)
    else:
        # A resolver marked @prefetched reads like a plain field when its answer is already there.
        resolver = getattr(getattr(strawberry_field, "base_resolver", None), "wrapped_func", None)
        attribute = getattr(resolver, "_bezel_prefetched", None)
    if attribute is None:
        return None
    kind = _unwrap(field_def.type)
    if isinstance(kind, GraphQLEnumType):
        return _Leaf(attribute, kind, _enum_names(kind))
    if isinstance(kind, GraphQLScalarType):
        return _Leaf(attribute, kind, passthrough=_PASSTHROUGH.get(kind.name) if kind in _BUILT_IN else None)
    if isinstance(kind, GraphQLObjectType):
        return _Flat(attribute, kind, is_list=False)
    if isinstance(kind, GraphQLList):
        item = _unwrap(kind.of_type)
        if isinstance(item, GraphQLObjectType):
            return _Flat(attribute, item, is_list=True)
    return None


def _enum_names(enum_type: GraphQLEnumType) -> dict[Any, str] | None:
    """Python enum member -> GraphQL name, as strawberry's CustomGraphQLEnumType would serialize it."""
    wrapped = getattr(enum_type, "wrapped_cls", None)
    if wrapped is None:
        return None
    by_value = {definition.value: name for name, definition in enum_type.values.items()}
    return {member: by_value[member.value] for member in wrapped if member.value in by_value}


_BUILT_IN = (GraphQLString, GraphQLID, GraphQLBoolean)
_PASSTHROUGH = {"String": str, "ID": str, "Boolean": bool}


def _unwrap(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_
