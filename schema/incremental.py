"""@defer and @stream: the parts of an answer, each shaped like a whole answer, inside the budget.

graphql-core runs incremental delivery (`experimental_execute_incrementally`, deferred work started
at once: `enable_early_execution`); what is Bezel's is around it:

- A client that does not accept `multipart/mixed` gets one JSON answer: it runs the document with
  its @defer/@stream directives removed (`undeferred`, worked out once per document), so the answer
  is what the same query without them would give, at the same cost.
- Every later part is shaped as a whole answer is (`schema.errors`): coded errors only, anything
  unexpected masked; strawberry's own handling passes deferred errors through as they are.
- Partial failures noted while a part resolved (stock shown UNKNOWN because the inventory vendor
  failed) travel in that part's errors; the last part carries the complete `extensions.vendors`.
- The request's budget bounds the whole stream: a part still missing when it runs out is closed with
  a `BUDGET_EXCEEDED` error, never waited for.
- A `deliver` span records when each part left.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from graphql import (
    BREAK,
    REMOVE,
    DirectiveNode,
    DocumentNode,
    GraphQLError,
    Visitor,
    visit,
)
from graphql.execution import (
    CompletedResult,
    ExperimentalIncrementalExecutionResults,
    SubsequentIncrementalExecutionResult,
)

from connectors.telemetry import tracer
from resolvers.context import RequestContext
from schema.bounds import GRACE_S, OverBudget
from schema.errors import shape_execution_error

DIRECTIVES = frozenset({"defer", "stream"})


class _Finder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        if node.name.value in DIRECTIVES:
            self.found = True
            return BREAK
        return None


class _Remover(Visitor):
    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        return REMOVE if node.name.value in DIRECTIVES else None


def is_incremental(document: DocumentNode) -> bool:
    finder = _Finder()
    visit(document, finder)
    return finder.found


def undeferred(document: DocumentNode) -> DocumentNode:
    """The document without @defer and @stream (itself when it has none): one answer, same data."""
    return visit(document, _Remover()) if is_incremental(document) else document


def deliver(result: ExperimentalIncrementalExecutionResults, context: Any) -> ExperimentalIncrementalExecutionResults:
    """The same results, each later part shaped and the whole stream bounded by the request's budget."""
    if not isinstance(context, RequestContext):
        return result
    initial = result.initial_result
    initial.extensions = {**(initial.extensions or {}), "vendors": context.scope.log.summary()}
    return ExperimentalIncrementalExecutionResults(initial, _parts(result.subsequent_results, context, initial))


async def _parts(results: AsyncGenerator[SubsequentIncrementalExecutionResult, None], context: RequestContext,
                 initial: Any) -> AsyncGenerator[SubsequentIncrementalExecutionResult, None]:
    pending = {p.id for p in initial.pending or ()}
    reported = set(context.partial_errors)  # the initial part carries those (schema.errors.ShapeErrors)
    name = (context.operation or (None, ""))[0]
    span = tracer.start_span(f"deliver {name or 'anonymous'}", attributes={"bezel.parts.pending": len(pending)})
    span.add_event("part", {"index": 0, "bezel.pending": len(pending)})
    index = 0
    try:
        while True:
            remaining = context.scope.deadline.remaining_s() + GRACE_S
            try:
                part = await asyncio.wait_for(anext(results), timeout=max(0.0, remaining))
            except StopAsyncIteration:
                return
            except TimeoutError:
                span.add_event("budget exceeded", {"bezel.pending": len(pending)})
                yield _out_of_budget(pending, context)
                return
            index += 1
            pending |= {p.id for p in part.pending or ()}
            pending -= {c.id for c in part.completed or ()}
            fresh = [context.partial_errors[k] for k in context.partial_errors.keys() - reported]
            reported |= context.partial_errors.keys()
            _shape(part, fresh)
            if not part.has_next:
                part.extensions = {**(part.extensions or {}), "vendors": context.scope.log.summary()}
            span.add_event("part", {"index": index, "bezel.completed": len(part.completed or ()),
                                    "bezel.has_next": part.has_next})
            yield part
            if not part.has_next:
                return
    finally:
        await results.aclose()
        span.set_attribute("bezel.parts", index + 1)
        span.end()


def _shape(part: SubsequentIncrementalExecutionResult, partial: list[Any]) -> None:
    """Coded errors only, in every incremental item and completion; new partial failures on the first item."""
    for item in part.incremental or ():
        if item.errors:
            item.errors = [shape_execution_error(e) for e in item.errors]
    for done in part.completed or ():
        if done.errors:
            done.errors = [shape_execution_error(e) for e in done.errors]
    if partial and part.incremental:
        first = part.incremental[0]
        first.errors = [*(first.errors or ()), *(GraphQLError(e.message, original_error=e) for e in partial)]


def _out_of_budget(pending: set[str], context: RequestContext) -> SubsequentIncrementalExecutionResult:
    error = OverBudget(context.scope.deadline.budget_ms)
    return SubsequentIncrementalExecutionResult(
        has_next=False, completed=[CompletedResult(id=i, errors=[error]) for i in sorted(pending)],
        extensions={"vendors": context.scope.log.summary()})
