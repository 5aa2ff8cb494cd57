"""Trusted documents over HTTP: production runs the manifest's operations by id and refuses anything
else before parsing it; development speaks Apollo's automatic persisted queries, shared through Redis."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.errors import ConfigError
from sandbox.handle import Sandbox, free_port
from tests.support import ROOT, US_ADDRESS, Gateway, run_gateway, scrape, settings_for, value

MANIFEST = ROOT / "storefront" / "persisted-query-manifest.json"
OPERATIONS = {op["name"]: op for op in json.loads(MANIFEST.read_text())["operations"]}
PAGE = OPERATIONS["ProductPage"]
PAGE_VARIABLES = {"handle": "lumiere-sapphire-pendant", "shipTo": US_ADDRESS,
                  "engraving": {"text": "Forever", "font": "script", "placement": "INSIDE_BAND"}}
# Production's documents settings, on the tests' sandbox (whose vendors production allows only in staging).
PRODUCTION = {"BEZEL_ENV": "production", "BEZEL_DOCUMENTS__MANIFEST": str(MANIFEST),
              "BEZEL_DOCUMENTS__REQUIRE_TRUSTED": "true", "BEZEL_DOCUMENTS__APQ": "false",
              "BEZEL_INSECURE__ALLOW_VENDORS": "true"}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def code(response: Any) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


@pytest.fixture
async def production(sandbox: Sandbox) -> AsyncIterator[Gateway]:
    async with run_gateway(settings_for(sandbox, **PRODUCTION)) as gateway:
        yield gateway


async def test_the_manifest_s_operations_run_by_document_id_as_the_spec_and_apollo_send_them(
    production: Gateway,
) -> None:
    by_id = await production.http.post("/graphql", json={"documentId": PAGE["id"], "variables": PAGE_VARIABLES})
    spec = await production.http.post("/graphql", json={"documentId": f"sha256:{PAGE['id']}",
                                                         "variables": PAGE_VARIABLES})
    apollo = await production.http.post("/graphql", json={
        "variables": PAGE_VARIABLES, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": PAGE["id"]}}})
    by_get = await production.http.get("/graphql", params={"documentId": PAGE["id"],
                                                           "variables": json.dumps(PAGE_VARIABLES)})
    for response in (by_id, spec, apollo, by_get):
        assert response.status_code == 200, response.text
        product = response.json()["data"]["product"]
        assert product["title"] == "Lumière Sapphire Pendant"
        assert len(product["variants"]) == 30
        assert product["taxEstimate"]["rate"]


async def test_a_trusted_operation_is_planned_at_startup(sandbox: Sandbox) -> None:
    """With the fast path on (whatever this run's default): its plans are the fast path's."""
    app = create_app(settings_for(sandbox, **PRODUCTION, BEZEL_GATEWAY__FAST_PATH="true"))
    view = next(r.endpoint for r in app.routes if getattr(r, "path", "") == "/graphql")
    prepared = view.documents.trusted[PAGE["id"]]
    operation = prepared.document.definitions[0]
    caches = view.schema.fast_path_caches
    entry = caches.pinned[id(operation)]
    assert entry[0] is operation
    assert entry[2]  # its flat selections, worked out before any request


async def test_with_the_fast_path_off_the_manifest_loads_with_nothing_to_plan(sandbox: Sandbox) -> None:
    app = create_app(settings_for(sandbox, **PRODUCTION, BEZEL_GATEWAY__FAST_PATH="false"))
    view = next(r.endpoint for r in app.routes if getattr(r, "path", "") == "/graphql")
    assert PAGE["id"] in view.documents.trusted
    assert view.schema.fast_path_caches is None


async def test_anything_but_a_registered_id_is_refused_before_parsing_and_counted(
    production: Gateway, sandbox: Sandbox
) -> None:
    view = next(r.endpoint for r in production.app.routes if getattr(r, "path", "") == "/graphql")
    known = len(view.schema.documents)
    before = await scrape(production)
    text = await production.http.post("/graphql", json={"query": PAGE["body"], "variables": PAGE_VARIABLES})
    hash_and_text = await production.http.post("/graphql", json={
        "query": PAGE["body"], "extensions": {"persistedQuery": {"version": 1, "sha256Hash": PAGE["id"]}}})
    unknown = await production.http.post("/graphql", json={"documentId": "0" * 64})
    unknown_hash = await production.http.post("/graphql", json={
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "1" * 64}}})
    neither = await production.http.post("/graphql", json={"variables": {}})
    after = await scrape(production)
    assert (text.status_code, code(text)) == (403, "PERSISTED_QUERY_NOT_IN_LIST")
    assert (hash_and_text.status_code, code(hash_and_text)) == (403, "PERSISTED_QUERY_NOT_IN_LIST")
    assert (unknown.status_code, code(unknown)) == (404, "PERSISTED_QUERY_NOT_IN_LIST")
    assert (unknown_hash.status_code, code(unknown_hash)) == (404, "PERSISTED_QUERY_NOT_IN_LIST")
    assert (neither.status_code, code(neither)) == (400, "PERSISTED_QUERY_ID_REQUIRED")
    assert len(view.schema.documents) == known  # nothing was parsed
    assert sum(sandbox.calls().values()) == 0
    refused = {reason: value(after, "bezel_requests_refused_total", reason=reason)
               - value(before, "bezel_requests_refused_total", reason=reason)
               for reason in ("not_in_list", "id_required")}
    assert refused == {"not_in_list": 4, "id_required": 1}


async def test_a_mutation_is_never_run_by_a_get(production: Gateway, sandbox: Sandbox) -> None:
    place = OPERATIONS["PlaceOrder"]
    response = await production.http.get("/graphql", params={"documentId": place["id"], "variables": "{}"})
    assert response.status_code in (400, 405)
    assert sandbox.calls()["payments"] == 0


def test_a_manifest_operation_that_no_longer_validates_stops_the_gateway(sandbox: Sandbox, tmp_path: Path) -> None:
    broken = tmp_path / "manifest.json"
    broken.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": "a1", "name": "Fine", "type": "query", "body": "query Fine { products { nodes { title } } }"},
        {"id": "b2", "name": "Gone", "type": "query", "body": "query Gone { product(handle: \"x\") { sparkle } }"},
    ]}))
    with pytest.raises(ConfigError, match="Gone: not valid against the schema: Cannot query field 'sparkle'"):
        create_app(settings_for(sandbox, BEZEL_DOCUMENTS__MANIFEST=str(broken)))
    config = tmp_path / "bezel.toml"
    config.write_text(f'[documents]\nmanifest = "{broken}"\nrequire_trusted = true\n')
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--port",
                             str(free_port())], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Gone" in result.stderr
    assert "Traceback" not in result.stderr


async def test_the_product_page_s_public_part_runs_by_get_and_the_shopper_s_part_is_never_public(
    production: Gateway, sandbox: Sandbox,
) -> None:
    """The storefront's split: ProductPublic (a handle, nothing of the shopper's) by GET answers the piece with
    its stock. ProductShopper carries an address and an engraving text, so the storefront POSTs it; sent by GET
    anyway, the gateway answers it (it refuses only mutations and, in production, order lookups by GET) and
    never marks that answer public: no shared cache may keep it."""
    public = OPERATIONS["ProductPublic"]
    answer = await production.http.get("/graphql", params={
        "documentId": public["id"], "operationName": "ProductPublic",
        "variables": json.dumps({"handle": "lumiere-sapphire-pendant"})})
    assert answer.status_code == 200, answer.text
    assert "errors" not in answer.json()
    product = answer.json()["data"]["product"]
    assert product["title"] == "Lumière Sapphire Pendant"
    assert len(product["variants"]) == 30
    assert {v["availability"]["status"] for v in product["variants"]} <= {"IN_STOCK", "LOW_STOCK", "OUT_OF_STOCK"}
    assert not {"taxEstimate", "shippingInsurance", "financing", "engravingPreview"} & product.keys()
    assert sandbox.calls()["tax"] == sandbox.calls()["engraving"] == 0

    shopper = OPERATIONS["ProductShopper"]
    variables = {k: PAGE_VARIABLES[k] for k in ("handle", "shipTo", "engraving")}
    by_post = await production.http.post("/graphql", json={"documentId": shopper["id"], "variables": variables})
    by_get = await production.http.get("/graphql", params={"documentId": shopper["id"],
                                                           "variables": json.dumps(variables)})
    for response in (by_post, by_get):
        assert response.status_code == 200, response.text
        assert response.json()["data"]["product"]["taxEstimate"]["rate"]
        assert "public" not in response.headers.get("cache-control", "")


def test_documents_check_is_the_storefront_s_ci_step(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "gateway.cli", "documents", "check", str(MANIFEST)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    broken = tmp_path / "map.json"
    broken.write_text(json.dumps({"x1": "query A { product(handle: \"a\") { title } }",
                                  "x2": "query B { product(handle: \"a\") { price } }"}))
    bad = subprocess.run([sys.executable, "-m", "gateway.cli", "documents", "check", str(broken)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "x2: not valid against the schema: Cannot query field 'price' on type 'Product'" in bad.stderr
    assert "x1" not in bad.stderr.split("\n")[0]


def test_the_committed_schema_and_manifest_are_what_the_code_produces() -> None:
    sdl = subprocess.run([sys.executable, "-m", "gateway.cli", "schema"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert sdl == (ROOT / "schema.graphql").read_text(), "run: .venv/bin/bezel schema > schema.graphql"
    built = subprocess.run([sys.executable, "-m", "gateway.cli", "documents", "build",
                            str(ROOT / "storefront" / "operations")], capture_output=True, text=True, timeout=60,
                           check=True).stdout
    assert built == MANIFEST.read_text(), ("run: .venv/bin/bezel documents build storefront/operations "
                                           "-o storefront/persisted-query-manifest.json")


# ---------------------------------------------------------------- development: automatic persisted queries

PRODUCTS = "query Names { products(first: 3) { nodes { title } } }"


def persisted(text: str | None, digest: str) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    if text is not None:
        body["query"] = text
    return body


async def test_apq_registers_a_text_by_its_hash_for_every_process(sandbox: Sandbox, redis_url: str) -> None:
    digest = sha256(PRODUCTS)
    settings = settings_for(sandbox, REDIS_URL=redis_url)
    async with run_gateway(settings) as one, run_gateway(settings) as two:
        first = await one.http.post("/graphql", json=persisted(None, digest))
        assert (first.status_code, code(first)) == (200, "PERSISTED_QUERY_NOT_FOUND")
        assert first.json()["errors"][0]["message"] == "PersistedQueryNotFound"  # Apollo Client's link reads it
        registered = await one.http.post("/graphql", json=persisted(PRODUCTS, digest))
        assert len(registered.json()["data"]["products"]["nodes"]) == 3
        elsewhere = await two.http.post("/graphql", json=persisted(None, digest))  # another process
        assert len(elsewhere.json()["data"]["products"]["nodes"]) == 3


async def test_apq_refuses_a_wrong_hash_and_never_registers_a_broken_document(gateway: Gateway) -> None:
    mismatch = await gateway.http.post("/graphql", json=persisted(PRODUCTS, sha256("something else")))
    assert (mismatch.status_code, code(mismatch)) == (400, "BAD_REQUEST")
    broken = "{ product(handle: \"a\") { sparkle } }"
    tried = await gateway.http.post("/graphql", json=persisted(broken, sha256(broken)))
    assert code(tried) == "GRAPHQL_VALIDATION_FAILED"
    later = await gateway.http.post("/graphql", json=persisted(None, sha256(broken)))
    assert code(later) == "PERSISTED_QUERY_NOT_FOUND"
    bad_shape = await gateway.http.post("/graphql", json={"extensions": {"persistedQuery": {"version": 2}}})
    assert (bad_shape.status_code, code(bad_shape)) == (400, "BAD_REQUEST")


async def test_apq_works_in_one_process_while_redis_is_down(sandbox: Sandbox) -> None:
    digest = sha256(PRODUCTS)
    async with run_gateway(settings_for(sandbox, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")) as gateway:
        assert (await gateway.http.post("/graphql", json=persisted(PRODUCTS, digest))).status_code == 200
        again = await gateway.http.post("/graphql", json=persisted(None, digest))
        assert len(again.json()["data"]["products"]["nodes"]) == 3
