"""The execution fast path gives exactly what graphql-core gives: same data, same errors, same order,
for every query the suite sends."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from graphql import OperationDefinitionNode, OperationType

from resolvers.context import RequestContext
from sandbox.handle import Sandbox
from schema import build_schema
from schema.root import BezelSchema
from tests.sent import Recorder, Sent
from tests.support import PRODUCT_PAGE_QUERY, ROOT, US_ADDRESS, Gateway

FRAGMENTS = """
query Fragments($withStock: Boolean!, $skipPrice: Boolean!) {
  product(handle: "lumiere-sapphire-pendant") {
    __typename
    ...Head
    variants {
      __typename
      ... on ProductVariant { sku }
      ...Stock @include(if: $withStock)
      cost: price @skip(if: $skipPrice) { currencyCode value: amount __typename }
      options: selectedOptions { value name }
      again: selectedOptions { name }
    }
    first: variantBySelectedOptions(selectedOptions: [{name: "Metal", value: "Platinum"},
      {name: "Stone", value: "Blue Sapphire"}, {name: "Chain Length", value: "18\\""}]) {
      sku availability { status freshness { vendor } }
    }
  }
}
fragment Head on Product { title options { name values } priceRange { minVariantPrice { amount } } }
fragment Stock on ProductVariant { availability { status quantityAvailable path freshness { source } } }
"""
PRODUCTS = "{ products(first: 4) { edges { cursor node { handle tags } } pageInfo { hasNextPage endCursor } } }"
CART = """query($a: AddressInput!) { cartQuote(input: {lines: [{variantId: "gid://bezel/ProductVariant/45210000001"},
  {variantId: "gid://bezel/ProductVariant/45210000700", quantity: 2}], shipTo: $a}) {
  lines { quantity variant { sku price { amount } availability { status } } lineTotal { amount } }
  subtotal { amount } total { amount } complete tax { rate } } }"""
# A directive steered by a variable inside a fragment (not in the operation itself).
STEERED_FRAGMENT = """query Steered($withStock: Boolean!) { product(handle: "lumiere-sapphire-pendant") {
  title variants { ...Row } } }
fragment Row on ProductVariant { sku availability @include(if: $withStock) { status } }"""
# The storefront's page as it is sent: every argument a variable, input objects converted per request.
STOREFRONT_PAGE = next(op["body"] for op in json.loads(
    (ROOT / "storefront" / "persisted-query-manifest.json").read_text())["operations"] if op["name"] == "ProductPage")
PAGE_VARIABLES = {"handle": "lumiere-sapphire-pendant", "shipTo": US_ADDRESS,
                  "engraving": {"text": "Forever Yours", "font": "script", "placement": "INSIDE_BAND"}}
CASES = [
    (PRODUCT_PAGE_QUERY, None),
    (STOREFRONT_PAGE, PAGE_VARIABLES),
    (STEERED_FRAGMENT, {"withStock": True}),
    (STEERED_FRAGMENT, {"withStock": False}),
    (FRAGMENTS, {"withStock": True, "skipPrice": False}),
    (FRAGMENTS, {"withStock": False, "skipPrice": True}),
    (PRODUCTS, None),
    (CART, {"a": US_ADDRESS}),
    ('{ product(handle: "seraphina-halo-ring") { variants { id title price { amount } } } }', None),
]


def normalized(result: Any) -> Any:
    """The result without what legitimately differs between two runs (ages and timings)."""
    text = repr((result.data, [e.formatted for e in result.errors or []]))
    text = re.sub(r"'ageMs': \d+", "'ageMs': N", text)
    return re.sub(r"'errorId': '[0-9a-f]+'", "'errorId': X", text)


@pytest.mark.parametrize(("query", "variables"), CASES)
async def test_fast_and_plain_execution_agree(gateway: Gateway, query: str, variables: dict | None) -> None:
    await gateway.gql(query, variables)  # warm the caches, so both runs see the same answers
    services = gateway.app.state.services
    fast, plain = build_schema(), build_schema(fast_path=False)
    first = await fast.execute(query, variable_values=variables, context_value=RequestContext.start(services,
                                                                                                    budget_ms=5000))
    second = await plain.execute(query, variable_values=variables, context_value=RequestContext.start(services,
                                                                                                      budget_ms=5000))
    assert normalized(first) == normalized(second)
    # Each case is a page that answers in full: equal because both failed would not do.
    assert not first.errors, first.errors
    assert first.data
    assert all(value is not None for value in first.data.values()), first.data


async def test_every_query_the_suite_sent_is_answered_the_same_both_ways(gateway: Gateway,
                                                                        sent_to_gateways: Recorder) -> None:
    """Every query sent to a gateway earlier in this session (collected by `tests.sent`: in a whole run,
    the end-to-end tests', which run before this one) and CASES, each executed with the fast path and
    without it: the same data and errors, parts merged for a client that took parts. Run alone, the
    schema tests have sent little more than CASES, the floor. Not re-run: mutations (they place orders
    and move stock) and documents the gateway refuses before running them (too large, unparsable,
    invalid). A pair that differs is run again, up to three times: an executor's difference repeats, the
    machine's does not (a part that can depend on timing, such as stock read `confirmed: false` when
    checkout's counters answer past their 50 ms bound; one of 652 differed once on a loaded CI run)."""
    services = gateway.app.state.services
    fast, plain = build_schema(), build_schema(fast_path=False)
    collected = list(sent_to_gateways.sent.values())
    queries = {item.key(): item for item in [*(Sent(q, v, None, False) for q, v in CASES), *collected]}
    compared, differing = 0, []
    for item in queries.values():
        if not _runs(fast, item):
            continue
        # Warm the caches, so both runs see the same answers.
        await gateway.http.post("/graphql", json={"query": item.query, "variables": item.variables,
                                                  "operationName": item.operation_name})
        compared += 1
        for _ in range(3):  # a difference that does not repeat was the machine's (a Redis read past its bound)
            first, second = await _answer(fast, item, services), await _answer(plain, item, services)
            if first == second:
                break
            print(f"differed once: {item.query[:80]!r}: {_where_they_differ(first, second)}")  # shown with -rP
        else:
            differing.append(f"{item.query[:200]!r} {item.variables}: {_where_they_differ(first, second)}")
    print(f"{compared} distinct queries compared ({len(collected)} requests collected)")  # shown with -rP
    assert differing == [], f"{len(differing)} of {compared} differ:\n" + "\n".join(differing)
    assert compared >= len(CASES)


def _where_they_differ(first: str, second: str, around: int = 150) -> str:
    """Both answers around their first difference (an answer's head is the same long catalog text)."""
    at = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), min(len(first), len(second)))
    start = max(0, at - around)
    return f"at {at}: fast ...{first[start:at + around]}... != plain ...{second[start:at + around]}..."


def _runs(schema: BezelSchema, item: Sent) -> bool:
    """Whether the gateway would run this query: within the size limit, parsed and valid, no mutation."""
    if len(item.query.encode()) > schema.documents.limits.max_query_bytes:
        return False
    prepared = schema.documents.prepare(item.query)
    if prepared is None or prepared.errors:
        return False
    return all(d.operation is OperationType.QUERY for d in prepared.document.definitions
               if isinstance(d, OperationDefinitionNode))


async def _answer(schema: BezelSchema, item: Sent, services: Any) -> str:
    from graphql.execution import ExperimentalIncrementalExecutionResults

    from schema.bounds import INCREMENTAL
    from tests.multipart import merged

    result = await schema.execute(item.query, variable_values=item.variables, operation_name=item.operation_name,
                                  operation_extensions={INCREMENTAL: True} if item.multipart else None,
                                  context_value=RequestContext.start(services, budget_ms=5000))
    if isinstance(result, ExperimentalIncrementalExecutionResults):
        parts: list[Any] = [result.initial_result.formatted,
                            *[part.formatted async for part in result.subsequent_results]]
        together = merged(parts)
        return normalized(_Result(together.get("data"), together.get("errors") or []))
    return normalized(result)


async def test_a_null_where_the_schema_forbids_one_fails_the_same_way(
    gateway: Gateway, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schema import product

    original = product._variant_shells

    def broken(p: Any) -> Any:  # copies: the real shells are shared and must stay intact
        return [dataclasses.replace(shell, title=None) for shell in original(p)]

    monkeypatch.setattr(product, "_variant_shells", broken)
    query = '{ product(handle: "gold-huggie-hoops") { title variants { sku title } } }'
    services = gateway.app.state.services
    results = [await schema.execute(query, context_value=RequestContext.start(services, budget_ms=5000))
               for schema in (build_schema(), build_schema(fast_path=False))]
    assert normalized(results[0]) == normalized(results[1])
    assert results[0].errors


LITERAL_DIRECTIVES = """{ product(handle: "lumiere-sapphire-pendant") {
    variants { sku price @include(if: false) { amount } title @skip(if: true)
      availability @include(if: true) { status freshness { source } } } } }"""


async def test_selections_shared_across_requests_keep_literal_directives(gateway: Gateway) -> None:
    """A query without variables has its flat selections worked out once and reused: the second run
    (from the shared selections) must equal the first and graphql-core's own answer."""
    services = gateway.app.state.services
    fast, plain = build_schema(), build_schema(fast_path=False)

    async def run(schema: Any) -> Any:
        return await schema.execute(LITERAL_DIRECTIVES,
                                    context_value=RequestContext.start(services, budget_ms=5000))

    await gateway.gql(LITERAL_DIRECTIVES)
    first, second, reference = await run(fast), await run(fast), await run(plain)
    assert normalized(first) == normalized(second) == normalized(reference)
    variant = first.data["product"]["variants"][0]
    assert set(variant) == {"sku", "availability"}


async def test_variant_shells_are_shared_and_never_carry_a_request_s_stock(gateway: Gateway) -> None:
    from resolvers.products import product_by_handle
    from schema import product

    services = gateway.app.state.services
    query = '{ product(handle: "lumiere-sapphire-pendant") { variants { sku availability { status } } } }'
    assert (await gateway.gql(query))["data"]["product"]["variants"][0]["availability"]["status"]
    sourced = await product_by_handle(RequestContext.start(services, budget_ms=5000), "lumiere-sapphire-pendant")
    assert sourced is not None
    store = gateway.app.state.schema.shells  # the schema's own, not the module's
    shells = product._variant_shells(store, sourced.value)
    assert product._variant_shells(store, sourced.value) is shells  # the cached product: converted once
    assert all(shell.stock is None for shell in shells)  # a request's stock went on copies
    with_stock = (await gateway.gql(query))["data"]["product"]["variants"]
    assert all(v["availability"]["status"] for v in with_stock)
    assert all(shell.stock is None for shell in product._variant_shells(store, sourced.value))


STEERED = """query($withPrice: Boolean!, $skipTitle: Boolean!) {
  product(handle: "lumiere-sapphire-pendant") {
    variants { sku price @include(if: $withPrice) { amount } title @skip(if: $skipTitle)
      selectedOptions { name value } } } }"""


async def test_selections_steered_by_variables_are_worked_out_per_request(gateway: Gateway) -> None:
    """The same document (one AST, from the document cache) run with different @include/@skip
    variables inside a flat selection: each run selects what its own variables say."""
    services = gateway.app.state.services
    fast, plain = build_schema(), build_schema(fast_path=False)
    await gateway.gql(STEERED, {"withPrice": True, "skipTitle": False})

    async def run(schema: Any, variables: dict[str, bool]) -> Any:
        return await schema.execute(STEERED, variable_values=variables,
                                    context_value=RequestContext.start(services, budget_ms=5000))

    for variables in ({"withPrice": True, "skipTitle": False}, {"withPrice": False, "skipTitle": True},
                      {"withPrice": True, "skipTitle": True}):
        first, reference = await run(fast, variables), await run(plain, variables)
        assert normalized(first) == normalized(reference)
        variant = first.data["product"]["variants"][0]
        assert ("price" in variant) is variables["withPrice"]
        assert ("title" in variant) is not variables["skipTitle"]


async def test_selections_of_operations_with_variables_are_shared_when_no_directive_takes_one(
    gateway: Gateway,
) -> None:
    """Variables in arguments only (a storefront's usual page query) cannot change which fields are
    collected, so the flat selections are shared; the answers still follow each request's variables."""
    query = """query($handle: String!) { product(handle: $handle) {
      handle variants { sku price { amount } selectedOptions { name value } } } }"""
    services = gateway.app.state.services
    fast, plain = build_schema(), build_schema(fast_path=False)
    for handle in ("lumiere-sapphire-pendant", "gold-huggie-hoops", "lumiere-sapphire-pendant"):
        variables = {"handle": handle}
        await gateway.gql(query, variables)
        first = await fast.execute(query, variable_values=variables,
                                   context_value=RequestContext.start(services, budget_ms=5000))
        reference = await plain.execute(query, variable_values=variables,
                                        context_value=RequestContext.start(services, budget_ms=5000))
        assert normalized(first) == normalized(reference)
        assert first.data["product"]["handle"] == handle
    assert fast.fast_path_caches is not None
    assert plain.fast_path_caches is None
    shared = [entry for entry in fast.fast_path_caches.recent.values() if entry[0].variable_definitions
              and entry[0].variable_definitions[0].variable.name.value == "handle"]
    assert shared
    assert shared[-1][2]  # kept, and holding selections


async def test_caches_belong_to_their_schema_and_can_be_cleared(gateway: Gateway) -> None:
    """Two schemas never share a plan or a selection (a test's fast and plain ones, two apps in one
    process); `clear()` forgets them all, and the next answer, worked out again, is the same."""
    services = gateway.app.state.services
    one, two = build_schema(), build_schema()
    caches, others = one.fast_path_caches, two.fast_path_caches
    assert caches is not None
    assert others is not None
    assert caches is not others

    async def run(schema: Any) -> Any:
        return normalized(await schema.execute(LITERAL_DIRECTIVES,
                                               context_value=RequestContext.start(services, budget_ms=5000)))

    await gateway.gql(LITERAL_DIRECTIVES)
    before = await run(one)
    assert caches.plans
    assert caches.recent
    assert (others.plans, len(others.recent)) == ({}, 0)
    caches.clear()
    assert (caches.plans, len(caches.recent), caches.pinned) == ({}, 0, {})
    assert await run(one) == before
    assert caches.plans


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "plain"])
async def test_production_suggests_no_names_either_way(fast_path: bool) -> None:
    """Production's executor is quiet with the fast path and without it: a variable's misspelt field is
    refused without "Did you mean ...?" (which would describe the schema to anyone)."""
    query = 'query($a: AddressInput!) { product(handle: "x") { taxEstimate(shipTo: $a) { rate } } }'
    variables = {"a": {"countryCode": "US", "zip": "10001", "provinceCod": "NY"}}
    chatty = await build_schema(fast_path=fast_path).execute(query, variable_values=variables)
    quiet = await build_schema(suggestions=False, fast_path=fast_path).execute(query, variable_values=variables)
    assert "Did you mean 'provinceCode'?" in chatty.errors[0].message
    assert quiet.errors
    assert "provinceCod" in quiet.errors[0].message
    assert "Did you mean" not in quiet.errors[0].message


DEFERRED = """query Deferred($a: AddressInput!) { product(handle: "lumiere-sapphire-pendant") {
  title
  variants { sku price { amount } ... @defer(label: "stock") { availability { status quantityAvailable } } }
  ... @defer(label: "tax") { taxEstimate(shipTo: $a) { rate amountToCollect { amount } } }
  ...Financing @defer(label: "financing")
} }
fragment Financing on Product { financing { offers { provider term } } }"""
STREAMED = """{ product(handle: "seraphina-halo-ring") {
  title variants @stream(initialCount: 3) { id sku price { amount } selectedOptions { name value } } } }"""
INCREMENTAL_CASES = [(DEFERRED, {"a": US_ADDRESS}), (STREAMED, None)]


async def _run_incremental(schema: Any, query: str, variables: dict | None, services: Any) -> list[dict]:
    from graphql.execution import ExperimentalIncrementalExecutionResults

    from schema.bounds import INCREMENTAL

    result = await schema.execute(query, variable_values=variables, operation_extensions={INCREMENTAL: True},
                                  context_value=RequestContext.start(services, budget_ms=5000))
    assert isinstance(result, ExperimentalIncrementalExecutionResults)
    answer = [result.initial_result.formatted]
    answer += [part.formatted async for part in result.subsequent_results]
    return answer


@pytest.mark.parametrize(("query", "variables"), INCREMENTAL_CASES)
async def test_deferred_and_streamed_answers_add_up_to_the_same_result_both_ways(
    gateway: Gateway, query: str, variables: dict | None
) -> None:
    """Fast and plain execution delivering parts, and one answer without @defer/@stream: the same data."""
    from tests.multipart import merged

    await gateway.gql(query, variables)  # warm the caches (this one runs without the directives)
    services = gateway.app.state.services
    fast, plain = build_schema(), build_schema(fast_path=False)
    fast_parts = await _run_incremental(fast, query, variables, services)
    plain_parts = await _run_incremental(plain, query, variables, services)
    assert len(fast_parts) > 1
    assert fast_parts[0]["hasNext"] is True
    whole = await fast.execute(query, variable_values=variables,
                               context_value=RequestContext.start(services, budget_ms=5000))
    expected = normalized(whole)
    for answer in (fast_parts, plain_parts):
        together = merged(answer)
        assert normalized(_Result(together["data"], together["errors"])) == expected


@dataclasses.dataclass
class _Result:
    data: Any
    errors: list[dict]

    def __post_init__(self) -> None:
        self.errors = [_Formatted(e) for e in self.errors]


@dataclasses.dataclass
class _Formatted:
    formatted: dict


async def test_refused_arguments_fail_the_same_way(gateway: Gateway) -> None:
    """Input the resolvers refuse (an engraving the vendor cannot cut, an address without a province):
    the same errors at the same paths, whichever way the arguments were converted."""
    services = gateway.app.state.services
    variables = {**PAGE_VARIABLES, "engraving": {"text": "\u2603" * 40, "font": "comic"},
                 "shipTo": {"countryCode": "US", "zip": "1"}}
    await gateway.gql(STOREFRONT_PAGE, variables)  # warm the caches, so both runs see the same answers
    results = [await schema.execute(STOREFRONT_PAGE, variable_values=variables,
                                    context_value=RequestContext.start(services, budget_ms=5000))
               for schema in (build_schema(), build_schema(fast_path=False))]
    assert normalized(results[0]) == normalized(results[1])
    paths = sorted(tuple(e.path or ()) for e in results[0].errors or [])
    assert ("product", "engravingPreview") in paths, paths
    assert ("product", "taxEstimate") in paths, paths
