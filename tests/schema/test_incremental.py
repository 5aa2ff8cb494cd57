"""@defer/@stream around graphql-core: spotting and removing the directives, and delivering later parts shaped
and bounded by the request's budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
from graphql import GraphQLError, parse, print_ast
from graphql.execution import (
    CompletedResult,
    ExperimentalIncrementalExecutionResults,
    IncrementalDeferResult,
    InitialIncrementalExecutionResult,
    PendingResult,
    SubsequentIncrementalExecutionResult,
)

from connectors.errors import VendorUnavailable
from connectors.models import Outcome
from resolvers.context import RequestContext
from schema.errors import INTERNAL_MESSAGE
from schema.incremental import deliver, is_incremental, undeferred
from tests.support import shop_in_process


def test_defer_and_stream_anywhere_make_a_document_incremental() -> None:
    assert is_incremental(parse("{ a { ... @defer { b } } }"))
    assert is_incremental(parse("{ a { ...F } } fragment F on A { list @stream(initialCount: 1) }"))
    assert not is_incremental(parse("{ a @include(if: true) { b @skip(if: false) } }"))


def test_undeferred_drops_only_defer_and_stream() -> None:
    plain = undeferred(parse('{ a @include(if: true) { ... @defer(label: "x") { b } list @stream } }'))
    assert print_ast(plain) == print_ast(parse("{ a @include(if: true) { ... { b } list } }"))
    document = parse("{ a }")
    assert undeferred(document) is document  # nothing to remove: the same document, not a copy


@pytest.fixture
async def services(redis_url: str) -> AsyncIterator[Any]:
    async with shop_in_process(redis_url) as shop:
        yield shop.services


def results(*parts: SubsequentIncrementalExecutionResult, hang: bool = False, meanwhile: Any = None
            ) -> AsyncGenerator[SubsequentIncrementalExecutionResult, None]:
    async def gen() -> AsyncGenerator[SubsequentIncrementalExecutionResult, None]:
        for part in parts:
            if meanwhile is not None:
                meanwhile()  # what resolving this part did
            yield part
        if hang:
            await asyncio.Event().wait()  # the last part never comes

    return gen()


def initial(*pending: str) -> InitialIncrementalExecutionResult:
    return InitialIncrementalExecutionResult(data={}, pending=[PendingResult(p, []) for p in pending], has_next=True)


async def collect(result: ExperimentalIncrementalExecutionResults) -> list[SubsequentIncrementalExecutionResult]:
    return [part async for part in result.subsequent_results]


def test_without_a_request_context_the_results_pass_through() -> None:
    result = ExperimentalIncrementalExecutionResults(initial("0"), results())
    assert deliver(result, None) is result


async def test_later_parts_are_shaped_and_the_last_reports_the_vendors(services: Any) -> None:
    ctx = RequestContext.start(services, budget_ms=2000)
    boom = GraphQLError("secret detail", original_error=RuntimeError("secret detail"))
    first = SubsequentIncrementalExecutionResult(
        has_next=True, incremental=[IncrementalDeferResult({"b": None}, "0", errors=[boom])])
    ctx.note_partial("tax", VendorUnavailable("tax", Outcome.ERROR))  # the initial part reported it

    def failing_stock() -> None:
        ctx.note_partial("inventory", VendorUnavailable("inventory", Outcome.TIMEOUT))

    last = SubsequentIncrementalExecutionResult(has_next=False, completed=[CompletedResult("0")])
    parts_in = results(first, last, meanwhile=failing_stock)
    delivered = deliver(ExperimentalIncrementalExecutionResults(initial("0"), parts_in), ctx)
    assert delivered.initial_result.extensions == {"vendors": ctx.scope.log.summary()}
    parts = await collect(delivered)
    errors = parts[0].incremental[0].errors  # type: ignore[index]
    assert [(e.message, e.extensions["code"]) for e in errors] == [  # type: ignore[union-attr]
        (INTERNAL_MESSAGE, "INTERNAL_SERVER_ERROR"),
        (VendorUnavailable("inventory", Outcome.TIMEOUT).message, "VENDOR_UNAVAILABLE")]
    assert parts[0].extensions is None
    assert parts[1].extensions == {"vendors": ctx.scope.log.summary()}


async def test_a_part_not_ready_within_the_budget_is_closed_with_budget_exceeded(services: Any) -> None:
    ctx = RequestContext.start(services, budget_ms=1)
    delivered = deliver(ExperimentalIncrementalExecutionResults(initial("0", "1"), results(hang=True)), ctx)
    [part] = await asyncio.wait_for(collect(delivered), timeout=10)
    assert part.has_next is False
    assert [(c.id, [e.extensions["code"] for e in c.errors or []]) for c in part.completed or []] == [
        ("0", ["BUDGET_EXCEEDED"]), ("1", ["BUDGET_EXCEEDED"])]


async def test_only_parts_still_pending_are_closed(services: Any) -> None:
    ctx = RequestContext.start(services, budget_ms=1)
    done = SubsequentIncrementalExecutionResult(has_next=True, completed=[CompletedResult("0")],
                                                pending=[PendingResult("2", [])])
    delivered = deliver(ExperimentalIncrementalExecutionResults(initial("0", "1"), results(done, hang=True)), ctx)
    parts = await asyncio.wait_for(collect(delivered), timeout=10)
    assert [c.id for c in parts[-1].completed or []] == ["1", "2"]
