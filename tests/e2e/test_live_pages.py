"""Live pages, told as shoppers live them: two `bezel serve` processes on one Redis; pages subscribe on
one, the piece sells on the other, and each open page hears it within a second, over graphql-sse and
over Apollo's multipart subscriptions. The order page follows its order to SYNCED with no polling."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.handle import Sandbox, free_port, spawned
from tests.e2e.test_checkout import PLACE, order_input
from tests.e2e.test_ghost_stock import SECRETS
from tests.e2e.test_order_sync import worker_process
from tests.e2e.test_slow_clients import serve
from tests.live import MULTIPART_ACCEPT, SSE_ACCEPT, subscribe
from tests.support import ROOMY, STAGING, run_switches

PRODUCT = """subscription($h: String!) { productChanged(handle: $h) { handle priceRange { minVariantPrice { amount } }
  variants { id sku price { amount } availability { status quantityAvailable path } } } }"""
ORDER = """subscription($id: ID!, $t: String!) { orderUpdated(id: $id, token: $t) { id status
  downstream { system status } } }"""


@pytest.fixture
def two(sandbox: Sandbox, redis_url: str) -> Iterator[tuple[str, str]]:
    env = {"REDIS_URL": redis_url, "BEZEL_GATEWAY__TRUSTED_PROXIES": '["127.0.0.1/32"]', **SECRETS}
    sandbox.webhooks(secrets={"shopify": SECRETS["SHOPIFY_WEBHOOK_SECRET"],
                              "commercetools": SECRETS["COMMERCETOOLS_WEBHOOK_TOKEN"],
                              "erp": SECRETS["ERP_WEBHOOK_SECRET"]})
    with serve(sandbox, **env) as a, serve(sandbox, **env) as b:
        sandbox.webhooks(to=a, delay_ms=20, jitter_ms=10)
        yield a, b


def client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, read=15))


async def test_two_pages_on_another_process_see_the_one_of_a_kind_brooch_sell_within_a_second(
    two: tuple[str, str],
) -> None:
    a, b = two
    async with client(a) as shop, client(b) as pages, \
            subscribe(pages, PRODUCT, {"h": "victorian-diamond-brooch"}, accept=SSE_ACCEPT) as sse, \
            subscribe(pages, PRODUCT, {"h": "victorian-diamond-brooch"}, accept=MULTIPART_ACCEPT) as multipart:
        assert sse.response.headers["content-type"].startswith("text/event-stream")
        assert multipart.response.headers["content-type"].startswith("multipart/mixed")
        for stream in (sse, multipart):  # the first message is the current state
            first = await stream.next()
            assert first is not None
            assert "errors" not in first, first
            brooch = first["data"]["productChanged"]["variants"][0]
            assert brooch["availability"]["status"] == "LOW_STOCK"
        sold_at = time.monotonic()
        placed = (await shop.post("/graphql", json={"query": PLACE, "variables": {"i": order_input(
            [{"variantId": brooch["id"]}], key=str(uuid.uuid4()))}})).json()["data"]["placeOrder"]
        assert placed["order"]["status"] == "CONFIRMED"
        for stream in (sse, multipart):
            told = await asyncio.wait_for(stream.next(), 1.0)
            assert told is not None
            shown = told["data"]["productChanged"]["variants"][0]["availability"]
            assert (shown["status"], shown["quantityAvailable"]) == ("OUT_OF_STOCK", 0)
        assert time.monotonic() - sold_at < 1.0


async def test_a_sale_in_a_shop_and_a_price_edit_reach_an_open_page(two: tuple[str, str], sandbox: Sandbox) -> None:
    _, b = two
    async with client(b) as pages, subscribe(pages, PRODUCT, {"h": "classic-comfort-band"}) as page:
        first = await page.next()
        assert first is not None
        band = next(v for v in first["data"]["productChanged"]["variants"]
                    if (v["availability"]["quantityAvailable"] or 0) >= 8)
        sandbox.set_inventory_stock(band["sku"], 4)  # the inventory system's event, delivered to the other process
        told = await asyncio.wait_for(page.next(), 2.0)
        assert told is not None
        shown = next(v for v in told["data"]["productChanged"]["variants"] if v["sku"] == band["sku"])
        assert shown["availability"]["quantityAvailable"] == 4
        sandbox.set_price(band["sku"], "999.00")  # Shopify: products/update
        told = await asyncio.wait_for(page.next(), 2.0)
        assert told is not None
        shown = next(v for v in told["data"]["productChanged"]["variants"] if v["sku"] == band["sku"])
        assert shown["price"]["amount"] == "999.00"


async def test_a_wrong_order_token_ends_at_once_as_a_lookup_answers_it(two: tuple[str, str]) -> None:
    a, _ = two
    async with client(a) as http:
        async with subscribe(http, ORDER, {"id": "ord_" + "0" * 20, "t": "nope"}) as stream:
            assert [m["data"] for m in await asyncio.wait_for(stream.all(), 5)] == [{"orderUpdated": None}]
        async with subscribe(http, ORDER, {"id": "ord_" + "0" * 20, "t": "nope"}, accept=MULTIPART_ACCEPT) as stream:
            assert [m["data"] for m in await asyncio.wait_for(stream.all(), 5)] == [{"orderUpdated": None}]


async def test_the_order_page_follows_its_order_to_synced_with_one_request(
    two: tuple[str, str], sandbox: Sandbox, redis_url: str,
) -> None:
    a, b = two
    async with client(a) as shop, client(b) as page:
        hoops = '{ product(handle: "gold-huggie-hoops") { variants { id } } }'
        ring = (await shop.post("/graphql", json={"query": hoops})).json()["data"]["product"]["variants"][0]
        placed = (await shop.post("/graphql", json={"query": PLACE, "variables": {"i": order_input(
            [{"variantId": ring["id"]}])}})).json()["data"]["placeOrder"]
        async with subscribe(page, ORDER, {"id": placed["order"]["id"], "t": placed["orderToken"]},
                             accept=MULTIPART_ACCEPT) as stream:
            first = await stream.next()
            assert first is not None
            assert {d["status"] for d in first["data"]["orderUpdated"]["downstream"]} == {"PENDING"}
            with worker_process(sandbox, redis_url):  # the worker syncs it and tells every process, each step
                rest = await asyncio.wait_for(stream.all(), 30)
        statuses = [{d["system"]: d["status"] for d in m["data"]["orderUpdated"]["downstream"]} for m in rest]
        assert set(statuses[-1].values()) == {"SYNCED"}
        # Each message is the order a step on: a system once SYNCED stays so. A retried call is a change of
        # sync state too (attempts, last error), so a message may repeat these statuses, never go back.
        synced = [{system for system, status in s.items() if status == "SYNCED"} for s in statuses]
        assert all(before <= after for before, after in itertools.pairwise(synced)), statuses


async def test_open_subscriptions_hold_no_in_flight_slot(sandbox: Sandbox, redis_url: str) -> None:
    with serve(sandbox, REDIS_URL=redis_url, BEZEL_GATEWAY__MAX_IN_FLIGHT="2",
               BEZEL_GATEWAY__ADAPTIVE_IN_FLIGHT="false") as url:
        async with client(url) as http, contextlib.AsyncExitStack() as stack:
            for _ in range(4):
                stream = await stack.enter_async_context(subscribe(http, PRODUCT, {"h": "victorian-diamond-brooch"}))
                assert await stream.next() is not None
            answer = await http.post("/graphql", json={"query": '{ product(handle: "gold-huggie-hoops") { title } }'})
            assert answer.status_code == 200, answer.text
            assert answer.json()["data"]["product"]["title"]


@pytest.fixture
def stoppable(sandbox: Sandbox, redis_url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`bezel serve` whose process the test stops itself."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEZEL_", "OTEL_"))}
    env.update({**ROOMY, "BEZEL_SANDBOX__URL": sandbox.url, **STAGING, "BEZEL_LOG_LEVEL": "WARNING",
                "OTEL_SDK_DISABLED": "true", **run_switches(), "REDIS_URL": redis_url})
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--admin-port", "0"]
    with spawned(args, health=f"{url}/healthz", env=env, cwd=Path(__file__).resolve().parents[2]) as process:
        yield url, process


async def test_sigterm_ends_every_stream_at_once_with_a_reason_to_reconnect(
    stoppable: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, process = stoppable
    async with client(url) as http, \
            subscribe(http, PRODUCT, {"h": "victorian-diamond-brooch"}) as sse, \
            subscribe(http, PRODUCT, {"h": "victorian-diamond-brooch"}, accept=MULTIPART_ACCEPT) as multipart:
        for stream in (sse, multipart):
            assert await stream.next() is not None
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        for stream in (sse, multipart):
            ended = await asyncio.wait_for(stream.next(), 3)
            assert ended is not None
            assert ended["errors"][0]["extensions"] == {"code": "SUBSCRIPTION_ENDED", "reason": "shutting_down",
                                                       "reconnect": True}
            assert await asyncio.wait_for(stream.next(), 3) is None  # then complete
    await asyncio.to_thread(process.wait, 10)
    assert time.monotonic() - stopped_at < 5  # not held for the drain's whole budget
