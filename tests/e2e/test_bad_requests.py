"""Whatever a client sends, it gets a typed error in GraphQL's shape, and never a stack trace."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlparse

import pytest

from resolvers import products as product_resolvers
from sandbox.handle import Sandbox
from tests.support import STAGING, Gateway, run_gateway, scrape, settings_for, value


async def test_malformed_graphql_is_a_parse_error(gateway: Gateway, sandbox: Sandbox) -> None:
    result = await gateway.gql('{ product(handle: "aurelia-solitaire-ring" { title }')
    assert result["data"] is None
    [error] = result["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert error["message"].startswith("Syntax Error")
    assert error["locations"] == [{"line": 1, "column": 44}]  # the "{" where ")" belongs
    assert sandbox.calls()["catalog"] == 0


async def test_unknown_fields_and_wrong_argument_types_fail_validation(gateway: Gateway) -> None:
    for query in ('{ product(handle: "x") { price } }', "{ product(handle: 42) { title } }", "{ nope }"):
        result = await gateway.gql(query)
        assert result["data"] is None
        assert {e["extensions"]["code"] for e in result["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}, query


async def test_wrong_variables_are_bad_user_input(gateway: Gateway) -> None:
    result = await gateway.gql("query($h: String!) { product(handle: $h) { title } }", {"h": 42})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    result = await gateway.gql("query($h: String!) { product(handle: $h) { title } }", {})
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"query": ', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": 12}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ products { nodes { handle } } }", "variables": []}', "application/json", 400, "BAD_REQUEST"),
        (b"{ products { nodes { handle } } }", "text/plain", 400, "BAD_REQUEST"),
        (b"[]", "application/json", 400, "BAD_REQUEST"),
        # JSON, but not an object: once a plain-text 500 and a traceback in the log, per request
        (b"1", "application/json", 400, "BAD_REQUEST"),
        (b'"x"', "application/json", 400, "BAD_REQUEST"),
        (b"null", "application/json", 400, "BAD_REQUEST"),
    ],
)
async def test_broken_http_bodies_get_json_errors(
    gateway: Gateway, body: bytes, content_type: str, status: int, code: str
) -> None:
    response = await gateway.http.post("/graphql", content=body, headers={"content-type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == code


async def test_an_oversized_body_is_refused_before_parsing(gateway: Gateway, sandbox: Sandbox) -> None:
    huge = "{ products { nodes { handle } } }" + " " * (70 * 1024)
    response = await gateway.post(huge)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert sandbox.calls()["catalog"] == 0

    async def chunks():  # no content-length: counted as it streams in
        for _ in range(80):
            yield b" " * 1024

    response = await gateway.http.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


async def test_queries_too_deep_too_aliased_or_too_long_are_refused(gateway: Gateway, sandbox: Sandbox) -> None:
    aliases = " ".join(f"a{i}: product(handle: \"x{i}\") {{ id }}" for i in range(31))
    result = await gateway.gql(f"{{ {aliases} }}")
    assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "aliases" in result["errors"][0]["message"]

    async with run_gateway(settings_for(sandbox, BEZEL_GATEWAY__MAX_DEPTH="3")) as shallow:
        result = await shallow.gql('{ product(handle: "x") { variants { availability { freshness { source } } } } }')
        assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "maximum operation depth" in result["errors"][0]["message"]

    tokens = " ".join(["id"] * 5000)
    result = await gateway.gql(f'{{ product(handle: "x") {{ {tokens} }} }}')
    assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert sandbox.calls()["catalog"] == 0


async def test_an_unexpected_error_is_masked_and_findable_in_the_log(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("password=hunter2 at db.internal:5432")

    monkeypatch.setattr(product_resolvers, "variant_by_selected_options", broken)
    result = await gateway.gql("""{ product(handle: "aurelia-solitaire-ring") { title
        variantBySelectedOptions(selectedOptions: [{name: "Metal", value: "Platinum"}]) { sku } } }""")
    assert result["data"]["product"]["title"]
    [error] = result["errors"]
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert re.fullmatch(r"[0-9a-f]{12}", error["extensions"]["errorId"])
    assert "hunter2" not in str(result)
    assert "Traceback" not in str(result)
    logged = [r for r in caplog.records if getattr(r, "error_id", None) == error["extensions"]["errorId"]]
    assert logged
    assert logged[0].exc_info is not None


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v for k, v in attrs if k in {"src", "href"} and v]


async def test_graphiql_loads_from_bezel_alone(gateway: Gateway) -> None:
    """The IDE page references no external host, and every asset it references is served."""
    page = await gateway.http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "GraphiQL" in page.text
    parser = _Refs()
    parser.feed(page.text)
    assert len(parser.refs) >= 6
    for ref in parser.refs:
        url = urlparse(ref)
        assert url.scheme in {"", "data"}, ref
        assert not url.netloc, ref
        if url.scheme == "data":
            continue
        asset = await gateway.http.get(ref)
        assert asset.status_code == 200, ref
        assert not re.search(rb"https?://(unpkg\.com|cdn\.jsdelivr\.net|fonts\.googleapis\.com)", asset.content), ref
    assert "query ProductPage" in page.text  # opens on the README's product-page query


async def test_production_turns_off_introspection_and_graphiql(sandbox: Sandbox) -> None:
    async with run_gateway(settings_for(sandbox, **STAGING)) as gateway:
        result = await gateway.gql("{ __schema { types { name } } }")
        assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in result["errors"][0]["message"].lower()
        page = await gateway.http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404
        result = await gateway.gql('{ product(handle: "gold-huggie-hoops") { title } }')
        assert result["data"]["product"]["title"] == "Gold Huggie Hoops"
    async with run_gateway(settings_for(sandbox)) as gateway:
        result = await gateway.gql("{ __schema { queryType { name } } }")
        assert result["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_beyond_max_in_flight_requests_are_shed_at_once_and_the_gateway_recovers(sandbox: Sandbox) -> None:
    """Two slow pages in progress and a limit of two: the third is refused at once with 503
    OVERLOADED and Retry-After, starts nothing at any vendor, and is counted; once the two finish,
    pages are served again."""
    import asyncio

    query = '{ product(handle: "gold-huggie-hoops") { title taxEstimate(shipTo: {countryCode: "US", ' \
            'provinceCode: "NY", zip: "10001"}) { rate } } }'
    async with run_gateway(settings_for(sandbox, BEZEL_GATEWAY__MAX_IN_FLIGHT="2")) as gw:
        await gw.gql('{ product(handle: "gold-huggie-hoops") { title } }')  # the catalog answer is cached
        sandbox.fault("tax", delay_ms=800)
        slow = [asyncio.create_task(gw.post(query)) for _ in range(2)]
        await asyncio.sleep(0.3)  # both are waiting on the tax vendor
        calls_before, metrics_before = sandbox.calls(), await scrape(gw)
        refused = await gw.post(query)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.json() == {"data": None, "errors": [{
            "message": "The gateway is at capacity; retry shortly.", "extensions": {"code": "OVERLOADED"}}]}
        assert sandbox.calls() == calls_before  # nothing was started for it
        assert all(r.status_code == 200 for r in await asyncio.gather(*slow))
        sandbox.reset()  # faults off
        assert (await gw.gql(query))["data"]["product"]["title"]
        # (a delta: the counter is the process's, and other tests in it shed too)
        shed = value(await scrape(gw), "bezel_requests_shed_total") - value(metrics_before, "bezel_requests_shed_total")
        assert shed == 1
