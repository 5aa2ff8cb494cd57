"""Every document is prepared once (parsed, shape-checked, validated) and then only looked up.

A `Prepared` document holds what execution needs and what refuses it: its AST, and the errors that
stop it before execution (a shape over `max_fields`/`max_repeats`, then the validation rules). The
`DocumentStore` keeps them by query text in a bounded LRU, and pins those of the trusted-document
manifest, which the gateway hands over already prepared (`PREPARED` in the operation's extensions):
a trusted request skips parsing, validation and the lookup entirely.

Keyed by text, not by AST: graphql-core's nodes hash recursively, so strawberry's ValidationCache
re-hashed the whole product page per request (~8% of a warm request's CPU). It is error-safe too:
on a syntax error the document is left unset, and strawberry parses again inside its own error
handling (with the same `max_tokens`) and reports a proper parse error. Documents that fail to parse
are not kept. Operations outside the manifest are then counted (`schema.cost.vendor_calls`) before
they run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from schema.bounds import INCREMENTAL
from schema.cost import TooComplex, check_shape, fields_of, fixed_vendor_calls, vendor_calls
from schema.incremental import undeferred
from schema.limits import QueryLimits
from schema.refusals import REFUSED

PREPARED = "bezel.prepared"  # key in a request's operation extensions: a document already prepared


def too_complex(message: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX", **extensions})


@dataclass(slots=True)
class Prepared:
    """A parsed document and what stops it from running (nothing, when `errors` is empty)."""

    text: str
    document: DocumentNode
    errors: list[GraphQLError]
    trusted: bool = False  # from the manifest: reviewed code, not counted against `max_cost`
    refused: bool = False  # refused for its shape, before validation
    extras: dict[Any, Any] = field(default_factory=dict)  # what later stages keep with it (a plan)

    def runnable(self, *, incremental: bool) -> DocumentNode:
        """What runs: the document, or for a client that takes one answer, without @defer/@stream."""
        if incremental:
            return self.document
        plain = self.extras.get("undeferred")
        if plain is None:
            plain = self.extras["undeferred"] = undeferred(self.document)
        return plain

    def is_subscription(self, operation_name: str | None) -> bool:
        """Whether the operation that runs is a subscription (False for a document that does not run)."""
        if self.errors:
            return False
        operations = [d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)
                      and (operation_name is None or (d.name is not None and d.name.value == operation_name))]
        return len(operations) == 1 and operations[0].operation is OperationType.SUBSCRIPTION

    def root_fields(self, operation_name: str | None) -> frozenset[str]:
        """The names of the root fields the operation selects (fragments on the root included): empty
        for a document that does not run. Worked out once per operation name."""
        if self.errors:  # refused: nothing runs, and its fragments are not worth inlining
            return frozenset()
        key = ("root_fields", operation_name)
        found = self.extras.get(key)
        if found is None:
            operations = [d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)
                          and (operation_name is None or (d.name is not None and d.name.value == operation_name))]
            found = frozenset() if len(operations) != 1 else frozenset(
                node.name.value for node in fields_of(self.document, operations[0].selection_set)
                if isinstance(node, FieldNode))
            self.extras[key] = found
        return found


class DocumentStore:
    """The shared, bounded store behind every request's DocumentCache, and the manifest's pins."""

    def __init__(self, limits: QueryLimits, rules: Sequence[type[ASTValidationRule]], *,
                 hide_suggestions: bool) -> None:
        self.limits = limits
        self.rules = (*specified_rules, *rules, MaybeNullValidationRule, OneOfInputValidationRule)
        self.hide_suggestions = hide_suggestions
        self.schema: GraphQLSchema | None = None
        self._entries: LRUCache[str, Prepared] = LRUCache(maxsize=limits.document_cache_size)

    def bind(self, schema: GraphQLSchema) -> None:
        """Validation needs the built schema, which needs this store: it is handed over once built."""
        self.schema = schema

    def parsed(self, text: str) -> Prepared | None:
        """The prepared document for this text (prepared now if new), or None if it does not parse.

        A document refused for its shape is not kept: its AST is what such a document is built to be
        large, and hundreds of them held in the LRU would make every full garbage collection slow."""
        entry = self._entries.get(text)
        if entry is None:
            entry = self.prepare(text)
            if entry is not None and not entry.refused:
                self._entries[text] = entry
        return entry

    def prepare(self, text: str, *, trusted: bool = False) -> Prepared | None:
        """Parse, check the shape, validate: the work done once per distinct document."""
        try:
            document = parse(text, max_tokens=self.limits.max_tokens)
        except GraphQLError:
            return None
        try:
            check_shape(document, max_fields=self.limits.max_fields, max_repeats=self.limits.max_repeats,
                        max_copies=self.limits.max_copies, max_deferred=self.limits.max_deferred,
                        # reviewed code is held to what it does when it runs, not to an estimate
                        max_parts=None if trusted else self.limits.max_incremental_parts)
        except TooComplex as exc:
            REFUSED.add(1, (("reason", "shape"),))
            return Prepared(text, document, [too_complex(str(exc), limit=exc.limit)], trusted, refused=True)
        calls = None if trusted else fixed_vendor_calls(document)
        if calls is not None and calls > self.limits.max_cost:  # refused whatever comes: no need to validate
            REFUSED.add(1, (("reason", "cost"),))
            return Prepared(text, document, [over_cost(calls, self.limits.max_cost)], trusted, refused=True)
        assert self.schema is not None, "DocumentStore.bind() was not called"
        errors = validate(self.schema, document, self.rules, hide_suggestions=self.hide_suggestions)
        return Prepared(text, document, errors, trusted)

    def __len__(self) -> int:
        return len(self._entries)


class DocumentCache(SchemaExtension):
    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self.entry: Prepared | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        given = (context.operation_extensions or {}).get(PREPARED)
        if isinstance(given, Prepared) and given.text == context.query:  # only the gateway puts one there
            self.entry = given
        elif context.query and context.graphql_document is None:
            self.entry = self.store.parsed(context.query)
        if self.entry is not None:
            incremental = (context.operation_extensions or {}).get(INCREMENTAL) is True
            context.graphql_document = self.entry.runnable(incremental=incremental)
        else:  # strawberry parses once more and reports the syntax error, within the same token limit
            context.parse_options["max_tokens"] = self.store.limits.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        entry = self.entry
        if entry is not None and context.graphql_document is not None:
            errors = entry.errors
            if not errors and not entry.trusted:
                errors = self._counted(entry)
            context.pre_execution_errors = errors
        yield

    def _counted(self, entry: Prepared) -> list[GraphQLError]:
        """No error, or QUERY_TOO_COMPLEX when the operation could ask vendors more than `max_cost` times."""
        context = self.execution_context
        limit = self.store.limits.max_cost
        calls = vendor_calls(entry.document, context.operation_name, context.variables)
        if calls <= limit:
            return []
        REFUSED.add(1, (("reason", "cost"),))
        return [over_cost(calls, limit)]


def over_cost(calls: int, limit: int) -> GraphQLError:
    return too_complex(f"This operation could ask vendors up to {calls} times; the limit is {limit}. Ask for fewer "
                       "products or fields per request.", cost=calls, maxCost=limit, limit="max_cost")
