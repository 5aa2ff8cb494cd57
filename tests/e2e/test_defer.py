"""@defer and @stream over HTTP: the first part at catalog time, the rest as vendors answer, every part
shaped like a whole answer, the whole stream inside the budget; one JSON answer for anyone else."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

import resolvers.quotes
from sandbox.handle import Sandbox
from tests.e2e.test_slow_clients import serve
from tests.multipart import ACCEPT_PARTS, merged, parts
from tests.support import STOREFRONT_PAGE_QUERY, US_ADDRESS, Gateway, with_typename_everywhere

PAGE = """query DeferredPage($h: String!, $a: AddressInput!, $e: EngravingInput!) { product(handle: $h) {
  title priceRange { minVariantPrice { amount } }
  variants { sku ... @defer(label: "stock") { availability { status } } }
  ... @defer(label: "tax") { taxEstimate(shipTo: $a) { rate } }
  ... @defer(label: "engraving") { engravingPreview(input: $e) { imageUrl } }
} }"""
VARIABLES = {"h": "aurelia-solitaire-ring", "a": US_ADDRESS,
             "e": {"text": "Always", "font": "script", "placement": "INSIDE_BAND"}}


async def streamed(gateway: Gateway, query: str = PAGE, variables: dict[str, Any] | None = None,
                   **headers: str) -> tuple[httpx.Response, list[dict[str, Any]]]:
    response = await gateway.http.post("/graphql", json={"query": query, "variables": variables or VARIABLES},
                                       headers={"accept": ACCEPT_PARTS, **headers})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("multipart/mixed"), response.headers["content-type"]
    return response, parts(response.content, response.headers["content-type"])


def labels(part: dict[str, Any]) -> set[str]:
    return {item["label"] for item in part.get("incremental") or []}


def codes(answer: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in answer["errors"]]


async def test_parts_arrive_in_the_order_their_vendors_answer(gateway: Gateway, sandbox: Sandbox) -> None:
    sandbox.fault("tax", delay_ms=150)
    sandbox.fault("engraving", delay_ms=400)
    response, answer = await streamed(gateway)
    first = answer[0]
    assert first["hasNext"] is True
    assert first["data"]["product"]["title"] == "Aurelia Solitaire Engagement Ring"
    assert "taxEstimate" not in first["data"]["product"]
    assert "availability" not in first["data"]["product"]["variants"][0]
    arrival = [label for part in answer[1:] for label in sorted(labels(part))]
    assert arrival.index("stock") < arrival.index("tax") < arrival.index("engraving")
    last = answer[-1]
    assert last["hasNext"] is False
    assert set(last["extensions"]["vendors"]) == {"catalog", "inventory", "tax", "engraving"}
    assert all("hasNext" in part for part in answer)
    assert "deferSpec=20220824" in response.headers["content-type"]


async def test_a_client_that_does_not_take_parts_gets_one_answer_with_the_same_data(gateway: Gateway) -> None:
    _, answer = await streamed(gateway)
    whole = await gateway.http.post("/graphql", json={"query": PAGE, "variables": VARIABLES})
    assert whole.headers["content-type"] == "application/json"
    assert whole.json()["data"] == merged(answer)["data"]
    assert "hasNext" not in whole.json()


async def test_the_storefront_page_as_apollo_client_sends_it_streams_and_answers_whole(gateway: Gateway) -> None:
    """Apollo Client adds `__typename` to every selection set, each deferred fragment's too: six in `product`."""
    apollo = with_typename_everywhere(STOREFRONT_PAGE_QUERY)
    variables = {"handle": VARIABLES["h"], "shipTo": US_ADDRESS, "engraving": VARIABLES["e"]}
    _, answer = await streamed(gateway, apollo, variables)
    assert {label for part in answer[1:] for label in labels(part)} == {
        "stock", "tax", "insurance", "financing", "engraving"}
    page = merged(answer)
    assert page.get("errors") == []
    assert page["data"]["product"]["__typename"] == "Product"
    assert page["data"]["product"]["taxEstimate"]["__typename"] == "TaxQuote"
    whole = (await gateway.http.post("/graphql", json={"query": apollo, "variables": variables})).json()
    assert "errors" not in whole
    assert whole["data"]["product"]["variants"][0]["availability"]["status"]


async def test_stream_delivers_a_list_after_its_first_items(gateway: Gateway) -> None:
    query = '{ product(handle: "seraphina-halo-ring") { title variants @stream(initialCount: 2) { sku } } }'
    _, answer = await streamed(gateway, query, {})
    assert len(answer[0]["data"]["product"]["variants"]) == 2
    assert len(merged(answer)["data"]["product"]["variants"]) == 220


async def test_a_vendor_failing_in_a_deferred_part_is_reported_there_and_the_rest_stands(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.fault("tax", status=500)
    variables = {**VARIABLES, "a": {**US_ADDRESS, "zip": "10007"}}  # nothing cached for this address
    _, answer = await streamed(gateway, variables=variables)
    tax = next(item for part in answer for item in part.get("incremental") or [] if item["label"] == "tax")
    assert tax["data"] == {"taxEstimate": None}
    assert [(e["extensions"]["code"], e["extensions"]["vendor"]) for e in tax["errors"]] == [
        ("VENDOR_UNAVAILABLE", "tax")]
    assert merged(answer)["data"]["product"]["engravingPreview"]["imageUrl"]


async def test_stock_unconfirmed_in_a_deferred_part_says_why_in_that_part(gateway: Gateway, sandbox: Sandbox) -> None:
    sandbox.fault("inventory", status=503)
    _, answer = await streamed(gateway)
    together = merged(answer)
    assert {v["availability"]["status"] for v in together["data"]["product"]["variants"]} <= {"UNKNOWN", "LOW_STOCK"}
    assert ("VENDOR_UNAVAILABLE", "inventory") in {(e["extensions"]["code"], e["extensions"].get("vendor"))
                                                   for e in together["errors"]}


async def test_an_unexpected_error_in_a_deferred_part_is_masked(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("engraving db password is hunter2")

    monkeypatch.setattr(resolvers.quotes, "engraving_preview", broken)
    response, answer = await streamed(gateway)
    assert b"hunter2" not in response.content
    assert b"Traceback" not in response.content
    error = next(e for part in answer for item in part.get("incremental") or [] for e in item.get("errors") or [])
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["errorId"]


async def test_the_budget_bounds_the_whole_stream(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """A part that never comes (a resolver stuck on something that is not a vendor call, which the call
    policy would have timed out) is closed with BUDGET_EXCEEDED when the budget runs out."""
    async def stuck(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(3600)

    monkeypatch.setattr(resolvers.quotes, "engraving_preview", stuck)
    started = time.monotonic()
    _, answer = await streamed(gateway, **{"x-bezel-budget-ms": "400"})
    assert time.monotonic() - started < 0.4 + 2.0  # a generous margin: it did not wait for the stuck part
    last = answer[-1]
    assert last["hasNext"] is False
    assert [e["extensions"]["code"] for done in last["completed"] for e in done["errors"]] == ["BUDGET_EXCEEDED"]
    assert merged(answer)["data"]["product"]["taxEstimate"]["rate"]  # what was ready was delivered


async def test_a_slow_vendor_no_longer_holds_the_first_part_over_real_sockets(sandbox: Sandbox) -> None:
    """Through uvicorn, part by part as they leave: the title is out long before a slowed engraving."""
    sandbox.fault("engraving", delay_ms=1500)
    with serve(sandbox) as url:
        arrivals: list[tuple[float, bytes]] = []
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await client.post("/graphql", json={"query": "{ __typename }"})  # connected and warm
            started = time.monotonic()
            async with client.stream("POST", "/graphql", json={"query": PAGE, "variables": VARIABLES},
                                     headers={"accept": ACCEPT_PARTS}) as response:
                async for chunk in response.aiter_raw():
                    arrivals.append((time.monotonic() - started, chunk))
    body = b"".join(chunk for _, chunk in arrivals)
    answer = parts(body, response.headers["content-type"])
    first_seen = next(t for t, _ in arrivals if b'"title"' in b"".join(c for s, c in arrivals if s <= t))
    assert first_seen < 1.0  # the engraving vendor alone takes 1.5 s
    assert arrivals[-1][0] >= 1.5
    assert answer[0]["data"]["product"]["title"]
    assert merged(answer)["data"]["product"]["engravingPreview"]["imageUrl"]
