"""Each distinct query text is parsed and validated once, then reused.

strawberry ships ParserCache and ValidationCache, but ValidationCache keys its LRU on the parsed
document, and graphql-core's AST nodes hash recursively: every request re-hashed the whole product
page query (~900 node hashes, ~8% of a warm request's CPU in `bench/results/warm_profile.txt`). Here
both results hang off one entry keyed by the query text, which hashes once per request in C.

It is also error-safe: strawberry's ParserCache raises syntax errors from its hook, where they skip
every extension's `on_operation` (so they would reach clients untyped). On a syntax error this
leaves the document unset: strawberry parses again inside its own error handling and reports it as a
proper parse error. Documents that fail to parse are not kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


@dataclass(slots=True)
class _Entry:
    document: DocumentNode
    # Validation results per rule set (the rules are fixed per schema, so in practice one).
    validated: list[tuple[tuple[Any, ...], list[GraphQLError]]] = field(default_factory=list)


class DocumentStore:
    """The shared, bounded store behind every request's DocumentCache."""

    def __init__(self, maxsize: int) -> None:
        self._entries: LRUCache[tuple[str, tuple[tuple[str, Any], ...]], _Entry] = LRUCache(maxsize=maxsize)

    def parsed(self, query: str, options: dict[str, Any]) -> _Entry | None:
        key = (query, tuple(options.items()))
        entry = self._entries.get(key)
        if entry is None:
            try:
                entry = _Entry(parse(query, **options))
            except GraphQLError:
                return None
            self._entries[key] = entry
        return entry

    def __len__(self) -> int:
        return len(self._entries)


class DocumentCache(SchemaExtension):
    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self.entry: _Entry | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query and context.graphql_document is None:
            self.entry = self.store.parsed(context.query, context.parse_options)
            if self.entry is not None:
                context.graphql_document = self.entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        entry = self.entry
        if entry is not None and context.graphql_document is entry.document:
            rules = tuple(context.validation_rules)
            errors = next((found for known, found in entry.validated if known == rules), None)
            if errors is None:
                errors = validate_document(context.schema._schema, entry.document, rules)
                entry.validated.append((rules, errors))
            context.pre_execution_errors = errors
        yield
