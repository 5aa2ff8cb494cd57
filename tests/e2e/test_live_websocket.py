"""Live pages over graphql-transport-ws, on a real socket: the gateway served by uvicorn on TCP as a worker
serves it, with a real Redis and the sandbox. A sale reaches an open socket; documents are resolved and
refused as over HTTP; caps per client and process, an oversized message, a client that stops reading and
a stopping process each end the way a client can act on."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket as sockets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from connectors.events import Invalidation
from resolvers.live import DROPPED
from sandbox.handle import Sandbox
from tests.e2e.test_checkout import PLACE, order_input
from tests.live import Socket, socket
from tests.support import Gateway, Served, scrape, serve_in_process, settings_for, value

PRODUCT = """subscription($h: String!) { productChanged(handle: $h) { handle variants { id sku
  availability { status quantityAvailable } } } }"""
ORDER = "subscription($id: ID!, $t: String!) { orderUpdated(id: $id, token: $t) { id status } }"
BROOCH = {"h": "victorian-diamond-brooch"}
PROXIES = '["127.0.0.1/32"]'  # the tests tell clients apart by X-Forwarded-For


def gateway(sandbox: Sandbox, redis_url: str, **env: str) -> Any:
    return serve_in_process(settings_for(sandbox, REDIS_URL=redis_url, BEZEL_GATEWAY__TRUSTED_PROXIES=PROXIES, **env))


@pytest.fixture
async def served(sandbox: Sandbox, redis_url: str) -> AsyncIterator[Served]:
    async with gateway(sandbox, redis_url) as s:
        yield s


def code_of(message: dict[str, Any]) -> dict[str, Any]:
    """The first error's extensions, whether it came as an `error` message or in a `next` payload."""
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    extensions: dict[str, Any] = errors[0]["extensions"]
    return extensions


async def first_state(ws: Socket, operation_id: str) -> dict[str, Any]:
    message = await ws.receive()
    assert (message["type"], message["id"]) == ("next", operation_id), message
    assert "errors" not in message["payload"], message
    state: dict[str, Any] = message["payload"]["data"]["productChanged"]
    return state


async def test_a_sale_through_the_shop_reaches_open_sockets_encoded_once(served: Served) -> None:
    view = next(r.endpoint for r in served.app.routes if getattr(r, "path", "") == "/graphql")
    async with socket(served.ws_url) as ws, socket(served.ws_url) as other, \
            httpx.AsyncClient(base_url=served.url, timeout=15) as shop:
        await other.subscribe("page", PRODUCT, BROOCH)
        await first_state(other, "page")
        await ws.subscribe("brooch", PRODUCT, BROOCH)
        brooch = (await first_state(ws, "brooch"))["variants"][0]
        assert brooch["availability"]["status"] == "LOW_STOCK"
        encoded = view.socket_payloads.encoded
        placed = (await shop.post("/graphql", json={"query": PLACE, "variables": {"i": order_input(
            [{"variantId": brooch["id"]}], key=str(uuid.uuid4()))}})).json()["data"]["placeOrder"]
        assert placed["order"]["status"] == "CONFIRMED"
        told = await ws.receive(2.0)
        assert told["type"] == "next"
        shown = told["payload"]["data"]["productChanged"]["variants"][0]["availability"]
        assert (shown["status"], shown["quantityAvailable"]) == ("OUT_OF_STOCK", 0)
        assert (await other.receive(2.0))["payload"] == told["payload"]
        assert view.socket_payloads.encoded == encoded + 1  # one execution, one encoding, two sockets told
        samples = await scrape(Gateway(http=shop, app=served.app))
    assert value(samples, "bezel_subscriptions_open", field="productChanged") == 2
    assert value(samples, "bezel_subscription_messages_total", field="productChanged") >= 4
    assert value(samples, "bezel_subscription_latency_seconds_count", field="productChanged") >= 2
    assert value(samples, "bezel_subscription_reads_total", field="productChanged") >= 1
    for reason in ("slow_consumer", "shutting_down"):  # from start-up, at 0 or more
        assert value(samples, "bezel_subscription_dropped_total", field="productChanged", reason=reason) >= 0
    assert value(samples, "bezel_subscription_refused_total", limit="client") >= 0


async def test_a_wrong_order_token_ends_as_the_order_lookup_answers_it(served: Served) -> None:
    order_id = "ord_" + "0" * 20
    async with httpx.AsyncClient(base_url=served.url, timeout=15) as http:
        lookup = (await http.post("/graphql", json={"query": "query($id: ID!, $t: String!) { order(id: $id, token: $t) "
                                                             "{ id status } }",
                                                    "variables": {"id": order_id, "t": "nope"}})).json()
    async with socket(served.ws_url) as ws:
        await ws.subscribe("order", ORDER, {"id": order_id, "t": "nope"})
        messages = await ws.until_complete("order")
    assert [m["type"] for m in messages] == ["next"]
    assert messages[0]["payload"]["data"] == {"orderUpdated": lookup["data"]["order"]} == {"orderUpdated": None}
    assert messages[0]["payload"].get("errors") == lookup.get("errors")


async def test_a_query_or_a_mutation_over_the_socket_is_an_error_for_its_id_and_the_socket_serves_on(
    served: Served,
) -> None:
    async with socket(served.ws_url) as ws:
        await ws.subscribe("q", '{ product(handle: "victorian-diamond-brooch") { handle } }')
        await ws.subscribe("m", PLACE, {"i": order_input([{"variantId": "x"}])})
        refused = {m["id"]: m for m in [await ws.receive(), await ws.receive()]}
        for operation_id in ("q", "m"):  # the protocol's `error`: the operation ends, nothing ran
            assert refused[operation_id]["type"] == "error"
            assert code_of(refused[operation_id])["code"] == "BAD_REQUEST"
        await ws.subscribe("s", PRODUCT, BROOCH)
        assert (await first_state(ws, "s"))["handle"] == "victorian-diamond-brooch"


async def test_a_message_larger_than_a_request_body_may_be_closes_the_socket_with_1009(served: Served) -> None:
    limit = served.app.state.settings.gateway.max_body_bytes
    async with socket(served.ws_url) as ws:
        await ws.subscribe("big", PRODUCT, {"h": "x" * (limit + 1024)})
        with pytest.raises(ConnectionClosed) as closed:
            await ws.receive()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


async def test_trusted_documents_run_by_id_over_the_socket_and_what_http_refuses_is_refused_there(
    sandbox: Sandbox, redis_url: str, tmp_path: Path,
) -> None:
    body = "subscription Brooch($h: String!) { productChanged(handle: $h) { handle } }"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": hashlib.sha256(body.encode()).hexdigest(), "name": "Brooch", "type": "subscription", "body": body}]}))
    document_id = hashlib.sha256(body.encode()).hexdigest()
    async with gateway(sandbox, redis_url, BEZEL_DOCUMENTS__MANIFEST=str(manifest),
                       BEZEL_DOCUMENTS__REQUIRE_TRUSTED="true", BEZEL_DOCUMENTS__APQ="false") as served, \
            httpx.AsyncClient(base_url=served.url, timeout=15) as http, socket(served.ws_url) as ws:
        await ws.subscribe("by-id", documentId=document_id, variables=BROOCH)
        assert (await first_state(ws, "by-id"))["handle"] == "victorian-diamond-brooch"
        await ws.subscribe("by-spec-id", documentId=f"sha256:{document_id}", variables=BROOCH)
        assert (await first_state(ws, "by-spec-id"))["handle"] == "victorian-diamond-brooch"
        for operation_id, payload in [("unknown", {"documentId": "0" * 64}), ("text", {"query": body})]:
            over_http = (await http.post("/graphql", json=payload, headers={"accept": "text/event-stream"})).json()
            await ws.send({"id": operation_id, "type": "subscribe", "payload": payload})
            refused = await ws.receive()
            assert (refused["type"], refused["id"]) == ("error", operation_id)
            assert code_of(refused)["code"] == over_http["errors"][0]["extensions"]["code"]
            assert code_of(refused)["code"] == "PERSISTED_QUERY_NOT_IN_LIST"


async def test_caps_per_client_and_per_process_refuse_with_a_typed_error(sandbox: Sandbox, redis_url: str) -> None:
    caps = {"BEZEL_LIVE__MAX_PER_CLIENT": "2", "BEZEL_LIVE__MAX_SUBSCRIPTIONS": "3"}
    async with gateway(sandbox, redis_url, **caps) as served, \
            socket(served.ws_url, headers={"x-forwarded-for": "198.51.100.1"}) as one, \
            socket(served.ws_url, headers={"x-forwarded-for": "198.51.100.2"}) as two:
        for operation_id in ("1", "2"):
            await one.subscribe(operation_id, PRODUCT, BROOCH)
            await first_state(one, operation_id)
        await one.subscribe("3", PRODUCT, BROOCH)
        over_client = await one.until_complete("3")
        assert code_of(over_client[-1]) == {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": "client"}
        await two.subscribe("1", PRODUCT, BROOCH)
        await first_state(two, "1")
        await two.subscribe("2", PRODUCT, BROOCH)
        over_process = await two.until_complete("2")
        assert code_of(over_process[-1]) == {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": "process"}
        await one.send({"id": "1", "type": "complete"})  # a place freed is a place taken again
        await asyncio.sleep(0.2)
        await two.subscribe("3", PRODUCT, BROOCH)
        await first_state(two, "3")


async def test_stopping_ends_each_operation_with_a_reason_to_reconnect_and_the_client_resubscribes_elsewhere(
    sandbox: Sandbox, redis_url: str,
) -> None:
    async with gateway(sandbox, redis_url) as stays, gateway(sandbox, redis_url) as stopping:
        async with socket(stopping.ws_url) as ws:
            await ws.subscribe("brooch", PRODUCT, BROOCH)
            await first_state(ws, "brooch")
            stopped_at = time.monotonic()
            stopping.stop()
            ended = await ws.until_complete("brooch", within_s=5)
            assert code_of(ended[-1]) == {"code": "SUBSCRIPTION_ENDED", "reason": "shutting_down", "reconnect": True}
            with pytest.raises(ConnectionClosed) as closed:
                await ws.receive(5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1012  # Service Restart: graphql-ws clients retry on it
            assert time.monotonic() - stopped_at < 5
        async with socket(stays.ws_url) as again:  # as the client does: subscribe again, to a process that stays
            await again.subscribe("brooch", PRODUCT, BROOCH)
            assert (await first_state(again, "brooch"))["handle"] == "victorian-diamond-brooch"


CONFIGURATOR = {"h": "bespoke-solitaire-configurator"}  # 1,200 variants: every message ~170 kB


async def _stalled_sse(url: str, query: str, variables: dict[str, Any]) -> tuple[asyncio.StreamReader,
                                                                                asyncio.StreamWriter]:
    """A graphql-sse subscription on a TCP connection whose receive window stays small and that reads
    nothing until asked: the gateway's writes back up within a few messages."""
    host, port = url.removeprefix("http://").split(":")
    raw = sockets.socket()
    raw.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)  # fixed: no autotuning past it
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=raw, limit=1024)  # pauses reading past 2 kB
    body = json.dumps({"query": query, "variables": variables}).encode()
    writer.write(b"POST /graphql HTTP/1.1\r\nHost: bezel\r\nContent-Type: application/json\r\n"
                 b"Accept: text/event-stream\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    return reader, writer


async def test_a_client_that_stops_reading_is_dropped_and_told_to_subscribe_again(
    sandbox: Sandbox, redis_url: str,
) -> None:
    async with gateway(sandbox, redis_url, BEZEL_LIVE__BUFFER="2") as served:
        key = (("field", "productChanged"), ("reason", "slow_consumer"))
        dropped = DROPPED.counts[key]
        reader, writer = await _stalled_sse(served.url, PRODUCT, CONFIGURATOR)
        hub = served.services.live
        assert hub is not None
        while not hub.open:  # noqa: ASYNC110 (subscribed: its first state is on its way; the hub has no event)
            await asyncio.sleep(0.05)
        sku = "BSP-PT-LD075-S0400"
        for change in range(100):  # the client reads nothing meanwhile
            # Below safety stock: every read of it asks the inventory system (DESIGN.md), so each event
            # changes what the page shows.
            await asyncio.to_thread(sandbox.set_inventory_stock, sku, 1 + change % 2)
            await served.services.bus.publish(Invalidation(source="test", origin_at=time.time(), skus=(sku,)))
            await asyncio.sleep(0.05)
            if DROPPED.counts[key] > dropped:
                break
        assert DROPPED.counts[key] == dropped + 1, "the gateway never dropped the client that stopped reading"
        received = b""
        while b"event: complete" not in received:  # what was sent before, then the end
            chunk = await asyncio.wait_for(reader.read(1 << 20), 10)
            assert chunk, "the stream closed without its end"
            received += chunk
        writer.close()
        # Chunked: each event is one chunk, so each `data:` line is whole; the last one is the end.
        lines = received.decode(errors="replace").split("\n")
        last = json.loads([line for line in lines if line.startswith("data: {")][-1].removeprefix("data: "))
        assert last["errors"][0]["extensions"] == {"code": "SUBSCRIPTION_ENDED", "reason": "slow_consumer",
                                                   "reconnect": True}
        assert hub.open == 0
