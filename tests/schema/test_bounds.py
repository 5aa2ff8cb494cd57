"""What an execution may cost while it runs: parts streamed, and work started past a streamed answer's budget."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql.execution import ExperimentalIncrementalExecutionResults

from resolvers.context import RequestContext
from sandbox.handle import Sandbox
from schema import build_schema
from schema.bounds import GRACE_S, INCREMENTAL
from schema.documents import PREPARED
from schema.limits import QueryLimits
from tests.support import Gateway

# The bounds hold whichever execution context runs: the fast path's or graphql-core's own.
pytestmark = pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])

# The 30-variant pendant, each variant's price deferred: one part per variant.
PER_VARIANT = """{ product(handle: "lumiere-sapphire-pendant") {
  title variants { sku ... @defer { price { amount } } } } }"""


async def parts_of(schema: Any, query: str, context: RequestContext, *, trusted: bool = False
                   ) -> list[dict[str, Any]]:
    """The parts of an incremental answer. `trusted`: as a manifest's document, held to what it does when it
    runs, not to the shape check's estimate of its parts."""
    extensions: dict[str, Any] = {INCREMENTAL: True}
    if trusted:
        extensions[PREPARED] = schema.documents.prepare(query, trusted=True)
    result = await schema.execute(query, operation_extensions=extensions, context_value=context)
    if not isinstance(result, ExperimentalIncrementalExecutionResults):
        return [{"data": result.data, "errors": [e.formatted for e in result.errors or []]}]
    return [result.initial_result.formatted, *[part.formatted async for part in result.subsequent_results]]


def error_codes(parts: list[dict[str, Any]]) -> list[str]:
    found = [e["extensions"]["code"] for part in parts for e in part.get("errors") or []]
    found += [e["extensions"]["code"] for part in parts for item in part.get("incremental") or []
              for e in item.get("errors") or []]
    found += [e["extensions"]["code"] for part in parts for done in part.get("completed") or []
              for e in done.get("errors") or []]
    return found


async def test_parts_past_the_cap_are_refused_where_they_would_start(gateway: Gateway, fast_path: bool) -> None:
    services = gateway.app.state.services
    await gateway.gql(PER_VARIANT.replace("... @defer", "..."))  # the catalog answer cached
    capped = build_schema(QueryLimits(max_incremental_parts=10), fast_path=fast_path)
    refused = await parts_of(capped, PER_VARIANT, RequestContext.start(services, budget_ms=5000))
    assert "could stream more than 10 parts" in refused[0]["errors"][0]["message"]  # a text: refused by estimate
    parts = await parts_of(capped, PER_VARIANT, RequestContext.start(services, budget_ms=5000), trusted=True)
    delivered = sum(len(part.get("incremental") or []) for part in parts[1:])
    assert delivered <= 10
    assert "QUERY_TOO_COMPLEX" in error_codes(parts)
    roomy = await parts_of(build_schema(QueryLimits(max_incremental_parts=31), fast_path=fast_path), PER_VARIANT,
                           RequestContext.start(services, budget_ms=5000), trusted=True)
    assert sum(len(part.get("incremental") or []) for part in roomy[1:]) == 30
    assert error_codes(roomy) == []


async def test_a_streamed_answer_past_its_budget_starts_nothing_more(gateway: Gateway, sandbox: Sandbox,
                                                                     fast_path: bool) -> None:
    """Its work is stopped, not finished and thrown away: no field starts, no vendor is asked."""
    services = gateway.app.state.services
    context = RequestContext.start(services, budget_ms=1)
    await asyncio.sleep(GRACE_S + 0.05)
    calls = sum(sandbox.calls().values())
    parts = await parts_of(build_schema(fast_path=fast_path), PER_VARIANT, context)
    assert parts[0]["data"] == {"product": None}
    assert error_codes(parts) == ["BUDGET_EXCEEDED"]
    assert sum(sandbox.calls().values()) == calls


async def test_the_budget_bounds_a_one_piece_answer_s_waits_not_its_work(gateway: Gateway, fast_path: bool) -> None:
    """Without parts the same late request is answered whole: the budget bounds what it waits for (a
    vendor past it is a fallback or an error), and a mutation must finish what it started."""
    services = gateway.app.state.services
    await gateway.gql(PER_VARIANT.replace("... @defer", "..."))
    context = RequestContext.start(services, budget_ms=1)
    await asyncio.sleep(GRACE_S + 0.05)
    result = await build_schema(fast_path=fast_path).execute(PER_VARIANT.replace("... @defer", "..."),
                                                         context_value=context)
    assert result.errors is None
    assert len(result.data["product"]["variants"]) == 30
