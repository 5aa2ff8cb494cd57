"""Documents outside the manifest are bounded before they run: the attacks of the trusted-documents issue,
each refused cheaply with no vendor asked; what does run cannot take a vendor's bulkhead."""

from __future__ import annotations

import time

from sandbox.handle import Sandbox
from tests.schema.test_cost import FAN_OUT
from tests.support import STAGING, Gateway, run_gateway, settings_for

# 350 copies: within max_tokens (a longer one is refused by the parser, cheaply too), far over max_repeats.
BOMB = '{ product(handle: "aurelia-solitaire-ring") { ' + " ".join(["variants { id }"] * 350) + " } }"


def codes(result: dict) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


async def test_a_fan_out_over_a_listing_is_refused_with_its_cost_before_any_vendor_is_asked(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    result = await gateway.gql(FAN_OUT)
    assert result["data"] is None
    assert codes(result) == ["QUERY_TOO_COMPLEX"]
    assert result["errors"][0]["extensions"]["cost"] == 1501
    assert result["errors"][0]["extensions"]["maxCost"] == 100
    assert sum(sandbox.calls().values()) == 0


async def test_the_validation_bomb_and_its_variations_are_refused_cheaply(gateway: Gateway, sandbox: Sandbox) -> None:
    for document in (BOMB, BOMB.replace(" ", "\n"), BOMB.replace("{ id }", "{ id sku }")):
        started = time.process_time()
        result = await gateway.gql(document)
        spent = time.process_time() - started
        assert codes(result) == ["QUERY_TOO_COMPLEX"]
        assert "selected 350 times" in result["errors"][0]["message"]
        assert spent < 0.2  # generous: the rule it would trigger takes ~0.6 s (bench/ measures the real cost)
    assert sum(sandbox.calls().values()) == 0


async def test_production_suggests_no_field_names(sandbox: Sandbox) -> None:
    query = '{ prodct(handle: "a") { title } }'
    async with run_gateway(settings_for(sandbox)) as development:
        assert "Did you mean" in (await development.gql(query))["errors"][0]["message"]
    async with run_gateway(settings_for(sandbox, **STAGING)) as production:
        result = await production.gql(query)
        assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
        assert "Did you mean" not in result["errors"][0]["message"]
        enum = await production.post('query($p: EngravingPlacement!) { __typename }', {"p": "INSIDE_BND"})
        assert "Did you mean" not in enum.text


async def test_one_request_sends_at_most_its_quota_to_a_vendor_and_the_rest_is_refused_for_it_alone(
    sandbox: Sandbox,
) -> None:
    """Twenty distinct addresses in one request (cost 21, under the limit): 16 tax calls leave, the other
    fields are refused for this request only; a shopper's own request is untouched."""
    addresses = " ".join(
        f't{i}: taxEstimate(shipTo: {{countryCode: "US", provinceCode: "NY", zip: "100{i:02d}"}}) {{ rate }}'
        for i in range(20))
    async with run_gateway(settings_for(sandbox, BEZEL_GATEWAY__VENDOR_CALLS_PER_REQUEST="16")) as gateway:
        greedy = await gateway.gql('{ product(handle: "gold-huggie-hoops") { ' + addresses + " } }")
        assert sandbox.calls()["tax"] == 16
        answered = [k for k, v in greedy["data"]["product"].items() if v is not None]
        assert len(answered) == 16
        assert set(codes(greedy)) == {"VENDOR_UNAVAILABLE"}
        assert greedy["extensions"]["vendors"]["tax"]["outcome"] == "rejected"
        shopper = await gateway.gql('{ product(handle: "gold-huggie-hoops") { taxEstimate(shipTo: '
                                    '{countryCode: "US", provinceCode: "NY", zip: "10099"}) { rate } } }')
        assert shopper["data"]["product"]["taxEstimate"]["rate"]
