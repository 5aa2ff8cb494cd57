"""Planning a known operation before its first request: its flat selections, worked out and pinned.

For a trusted document (the manifest's), the selections the fast path would work out on the first
request are worked out at startup instead, by walking the operation as the executor would collect
it, and kept for good (never evicted by the LRU other documents share): its first request is as
cheap as its thousandth. An operation whose @include/@skip take variables is planned per request
anyway, so there is nothing to pin beyond its entry. With the fast path off there is nothing to plan.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    type_from_ast,
)
from graphql.execution.collect_fields import collect_fields
from graphql.pyutils import Undefined

from schema.fastpath.context import FastLeafExecutionContext

log = logging.getLogger("bezel.documents")
_SCALAR_PLACEHOLDERS = {"String": "", "ID": "0", "Int": 0, "Float": 0.0, "Boolean": False}


def plan_ahead(schema: GraphQLSchema, document: DocumentNode, executor_class: type[Any]) -> int:
    """Pin the plans of every operation in `document` (in the caches of `executor_class`, the schema's
    execution context); returns how many flat selections were found."""
    if not issubclass(executor_class, FastLeafExecutionContext):  # the fast path is off
        return 0
    found = 0
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        variables = {v.variable.name.value: _placeholder(type_from_ast(schema, v.type))
                     for v in operation.variable_definitions or ()}
        executor = executor_class.build(schema, document, raw_variable_values=variables,
                                        operation_name=operation.name.value if operation.name else None)
        if isinstance(executor, list):  # cannot be built without real variables: planned on first use
            log.debug("operation %s planned on first use: %s", operation.name, executor)
            continue
        executor_class.caches.pin(executor.operation, executor.fragments)
        if executor._shared is None:  # steered by variables: planned per request
            continue
        root = schema.get_root_type(operation.operation)
        if root is None:
            continue
        grouped = collect_fields(schema, executor.fragments, executor.variable_values, root,
                                 executor.operation).grouped_field_set
        found += _walk(executor, root, grouped)
    return found


def _walk(executor: FastLeafExecutionContext, parent: GraphQLObjectType, grouped: dict[str, Any]) -> int:
    found = 0
    for details in grouped.values():
        field = parent.fields.get(details[0].node.name.value)
        if field is None:  # __typename and other meta fields
            continue
        named = field.type
        while isinstance(named, GraphQLNonNull | GraphQLList):
            named = named.of_type
        if not isinstance(named, GraphQLObjectType):
            continue
        if executor._flat_selection(named, details) is not None:
            found += 1
        sub = executor.collect_subfields(named, details)
        found += _walk(executor, named, sub.grouped_field_set)
    return found


def _placeholder(type_: Any) -> Any:
    """Some value of this input type: planning only needs the operation to build, not real input."""
    if isinstance(type_, GraphQLNonNull):
        return _placeholder(type_.of_type)
    if isinstance(type_, GraphQLList):
        return []
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {name: _placeholder(f.type) for name, f in type_.fields.items()
                if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined}
    if isinstance(type_, GraphQLScalarType):
        return _SCALAR_PLACEHOLDERS.get(type_.name, "")
    return None
