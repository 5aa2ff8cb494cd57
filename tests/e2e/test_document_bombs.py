"""Documents built to cost the gateway, sent to `bezel serve` over real sockets with query texts allowed: each
is refused (or answered) within a bounded cost, and the process keeps answering everyone else meanwhile."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from sandbox.handle import Sandbox
from tests.e2e.test_slow_clients import serve
from tests.multipart import ACCEPT_PARTS, parts
from tests.schema.test_cost import doubling

# Generous: what these cost when unbounded was seconds (7.6 s for the fragment bomb, 12-18 s for the
# deferred fan-out); bounded, they cost milliseconds. Nothing here measures speed, only that it is bounded.
BOUNDED_S = 1.0
DEFER_FAN_OUT = "{ " + " ".join(
    f'a{i}: product(handle: "seraphina-halo-ring") {{ variants {{ sku '
    + " ".join("... @defer { title price { amount } }" for _ in range(4)) + " } }" for i in range(30)) + " }"
# Within the document's cap (8 @defer), but a part per variant: 8 x 220 parts.
PER_VARIANT_FAN_OUT = "{ " + " ".join(
    f'a{i}: product(handle: "seraphina-halo-ring") {{ variants {{ sku ... @defer {{ title }} }} }}'
    for i in range(8)) + " }"


@pytest.fixture(scope="module")
def gateway(sandbox_process: Sandbox) -> Iterator[str]:
    """Production, with query texts allowed (`[insecure] allow_documents`: texts are what is attacked here)."""
    with serve(sandbox_process, BEZEL_INSECURE__ALLOW_DOCUMENTS="true", BEZEL_DOCUMENTS__APQ="false") as url:
        yield url


async def healthz_while(url: str, work: asyncio.Future[httpx.Response]) -> float:
    """The slowest /healthz answer while `work` runs: a frozen event loop shows here first."""
    slowest = 0.0
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while not work.done():
            started = time.perf_counter()
            assert (await client.get("/healthz")).status_code == 200
            slowest = max(slowest, time.perf_counter() - started)
            await asyncio.sleep(0.01)
    return slowest


async def attack(url: str, body: dict[str, object], **headers: str) -> tuple[httpx.Response, float, float]:
    """The attack's answer, how long it took, and the slowest /healthz meanwhile."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        started = time.perf_counter()
        work = asyncio.ensure_future(client.post("/graphql", json=body, headers=headers))
        slowest = await healthz_while(url, work)
        response = await work
        return response, time.perf_counter() - started, slowest


def codes_of(payload: dict[str, object]) -> set[str]:
    return {e["extensions"]["code"] for e in payload.get("errors") or []}  # type: ignore[attr-defined, index]


async def test_a_900_byte_fragment_bomb_costs_milliseconds_however_it_is_sent(gateway: str) -> None:
    """Each fragment spreads the next twice: expanding it blindly took 7.6 s (k = 22) with /healthz stalled.
    As a query, as a mutation naming placeOrder (whose budget is looked up from its root fields) and as an
    operation picked by name: refused by its shape, in milliseconds."""
    bomb = doubling(22)
    assert len(bomb) < 1_000
    for body in ({"query": bomb},
                 {"query": bomb.replace("query{", "mutation M{").replace("on Query", "on Mutation")},
                 {"query": bomb.replace("query{", "query Named{"), "operationName": "Named"}):
        response, took, slowest = await attack(gateway, body)
        assert response.status_code == 200
        assert codes_of(response.json()) == {"QUERY_TOO_COMPLEX"}
        assert took < BOUNDED_S
        assert slowest < BOUNDED_S


async def test_deferred_fan_out_is_refused_before_it_runs(gateway: str) -> None:
    """30 aliased products with 4 deferred fragments in their variants (26,400 parts): 12-18 s of CPU and 4.2 MB
    with the multipart Accept. Refused by its shape now; and fewer, larger fan-outs stop at the parts cap."""
    response, took, slowest = await attack(gateway, {"query": DEFER_FAN_OUT}, accept=ACCEPT_PARTS)
    assert codes_of(response.json()) == {"QUERY_TOO_COMPLEX"}
    assert "stream more than 300 parts" in response.json()["errors"][0]["message"]
    assert took < BOUNDED_S
    assert slowest < BOUNDED_S
    response, took, slowest = await attack(gateway, {"query": PER_VARIANT_FAN_OUT}, accept=ACCEPT_PARTS)
    assert codes_of(response.json()) == {"QUERY_TOO_COMPLEX"}  # 8 x 250 possible parts > 300: not run at all
    assert "could stream more than 300 parts" in response.json()["errors"][0]["message"]
    assert took < BOUNDED_S
    assert slowest < BOUNDED_S
    one = PER_VARIANT_FAN_OUT.split(" a1:")[0] + " }"  # one product: within the estimate, and it runs
    response, _, _ = await attack(gateway, {"query": one}, accept=ACCEPT_PARTS)
    answer = parts(response.content, response.headers["content-type"])
    assert sum(len(part.get("incremental") or []) for part in answer[1:]) == 220


async def test_a_variable_s_default_is_counted_in_the_cost(gateway: str) -> None:
    """`$n: Int = 50` was counted as the API's default page of 10, passing max_cost with 5x the calls."""
    query = ('query Q($n: Int = 50) { products(first: $n) { nodes { financing { offers { term } } '
             'taxEstimate(shipTo: {countryCode: "US", provinceCode: "NY", zip: "10001"}) { rate } } } }')
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        refused = (await client.post("/graphql", json={"query": query})).json()
        assert codes_of(refused) == {"QUERY_TOO_COMPLEX"}
        assert refused["errors"][0]["extensions"]["cost"] == 1 + 50 * 3
        sent = (await client.post("/graphql", json={"query": query, "variables": {"n": 2}})).json()
        assert "errors" not in sent or codes_of(sent) <= {"VENDOR_UNAVAILABLE"}


def _register(client: httpx.Client, text: str, address: str = "198.51.100.7") -> httpx.Response:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return client.post("/graphql", json={"query": text, "extensions": {"persistedQuery": {
        "version": 1, "sha256Hash": digest}}}, headers={"x-forwarded-for": address})


def test_registered_texts_are_bounded_in_bytes_count_and_per_client(sandbox: Sandbox, redis_url: str) -> None:
    """15 registrations of a 62 KB comment added 1 MB a day to the Redis that holds orders: now no text over
    max_query_bytes is read at all, one over apq_max_bytes runs but is not kept, Redis keeps at most
    apq_max_entries texts, and a client registers at most `[limits] apq_registrations`."""
    env = {"BEZEL_INSECURE__ALLOW_DOCUMENTS": "true", "BEZEL_DOCUMENTS__APQ": "true", "REDIS_URL": redis_url,
           "BEZEL_DOCUMENTS__APQ_MAX_ENTRIES": "10", "BEZEL_LIMITS__APQ_REGISTRATIONS": "12/hour",
           "BEZEL_DOCUMENTS__APQ_MAX_BYTES": "2048",
           "BEZEL_GATEWAY__TRUSTED_PROXIES": '["127.0.0.1/32"]'}
    store = redis.Redis.from_url(redis_url)
    with serve(sandbox, **env) as url, httpx.Client(base_url=url, timeout=30) as client:
        huge = "# " + "x" * 62_000 + "\n{ __typename }"
        refused = _register(client, huge)
        assert refused.status_code == 413  # [gateway] max_query_bytes: refused before anything reads it
        assert refused.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        padded = "# " + "x" * 4_000 + "\n{ __typename }"
        for n in range(3):
            answered = _register(client, padded.replace("{ __typename }", f"{{ n{n}: __typename }}"))
            assert answered.json()["data"] is not None  # it runs
        assert store.keys("bezel:{apq}:*") == []  # none kept: over apq_max_bytes
        for n in range(15):
            assert _register(client, f"{{ r{n}: __typename }}").status_code == 200
        entries = [k for k in store.keys("bezel:{apq}:*") if not k.endswith(b"index")]
        assert len(entries) <= 10
        assert store.zcard("bezel:{apq}:index") <= 10
        # the client's budget is spent (12 new ones): its next text runs but is not kept; another client's is
        extra = "{ late: __typename }"
        assert _register(client, extra).json()["data"] == {"late": "Query"}
        digest = hashlib.sha256(extra.encode()).hexdigest()
        assert not store.exists(f"bezel:{{apq}}:{digest}")
        assert _register(client, extra, address="203.0.113.4").status_code == 200
        assert store.exists(f"bezel:{{apq}}:{digest}")
