"""Live pages with the subscription clients teams use, pinned by tests/clients/package-lock.json, against a real
gateway (`bezel serve` on real Redis, the sandbox's webhooks pointed at it): Apollo Client 3 and 4 (HttpLink:
Apollo's multipart subscriptions), graphql-sse's client (distinct connections), graphql-ws's client
(graphql-transport-ws) and urql (over graphql-sse's client, and fetchExchange over multipart).

Each runs the storefront's ProductChanged (tests/clients/subscribe.mjs prints every message as a JSON line) on the
one-of-a-kind padparadscha ring; once every client has the ring as it is, its price is edited in the catalog
(Shopify's products/update reaches the gateway) and then it is sold through Bezel, and every client must hear
both, in that order: as text on a gateway open to texts, and by trusted-document id (each client's own way of
sending ids) on a second process that runs nothing but the storefront's manifest. urql's default Accept for a
subscription ("text/event-stream, multipart/mixed") gets graphql-sse's answer, which its own reader does not
read while the gateway ends lines with CRLF: urql here is told to ask for multipart, or forwards to
graphql-sse's client.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.handle import Sandbox
from sandbox.handle import stop as stop_process
from tests.clients.conftest import CLIENTS
from tests.e2e.test_checkout import PLACE, order_input
from tests.e2e.test_ghost_stock import SECRETS
from tests.e2e.test_slow_clients import serve
from tests.support import ROOT

RING = "padparadscha-cocktail-ring"
SKU = "PAD-S0600"
VARIANTS = "query($h: String!) { product(handle: $h) { variants { id } } }"
HTTP_CLIENTS = ["apollo3", "apollo4", "graphql-sse", "urql-sse", "urql-multipart", "urql-default"]
WAIT_S = 20  # for a message: generous, the machine is shared; the e2e tests hold the latency to account


MANIFEST = ROOT / "storefront" / "persisted-query-manifest.json"


@pytest.fixture
def live_gateway(sandbox: Sandbox, redis_url: str) -> Iterator[str]:
    """`bezel serve` on real Redis, the sandbox's webhooks (signed with the secrets it knows) sent to it."""
    sandbox.webhooks(secrets={"shopify": SECRETS["SHOPIFY_WEBHOOK_SECRET"],
                              "commercetools": SECRETS["COMMERCETOOLS_WEBHOOK_TOKEN"],
                              "erp": SECRETS["ERP_WEBHOOK_SECRET"]})
    with serve(sandbox, REDIS_URL=redis_url, **SECRETS) as url:
        sandbox.webhooks(to=url, delay_ms=20, jitter_ms=10)
        yield url


@pytest.fixture
def trusted_gateway(live_gateway: str, redis_url: str, sandbox: Sandbox) -> Iterator[str]:
    """A second `bezel serve` on the same Redis running nothing but the storefront's manifest: what it hears of
    sales and price edits, it hears from the other process (one Redis pub/sub message each)."""
    with serve(sandbox, REDIS_URL=redis_url, **SECRETS, BEZEL_DOCUMENTS__MANIFEST=str(MANIFEST),
               BEZEL_DOCUMENTS__REQUIRE_TRUSTED="true", BEZEL_DOCUMENTS__APQ="false") as url:
        yield url


class Subscriber:
    """`node subscribe.mjs <client> <url> <handle>`: its messages as they come, read off its stdout."""

    def __init__(self, node: str, client: str, url: str, manifest: Path | None) -> None:
        self.client = client
        by_id = [str(manifest)] if manifest else []
        self.process = subprocess.Popen([node, "subscribe.mjs", client, f"{url}/graphql", RING, *by_id],
                                        cwd=CLIENTS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_state(self) -> dict[str, Any]:
        """The ring as the next message that differs from the last one tells it (urql repeats its last result on
        every multipart heartbeat); fails on an error, the end, or nothing new within WAIT_S."""
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"{self.client}: nothing new within {WAIT_S} s; it saw {self.seen}", pytrace=False)
            if line is None:
                pytest.fail(f"{self.client} ended: {self.stderr()}", pytrace=False)
            message = json.loads(line)
            assert "error" not in message, (self.client, message)
            assert "complete" not in message, (self.client, message)
            ring = message["data"]["productChanged"]
            state = {"price": ring["priceRange"]["minVariantPrice"]["amount"],
                     "variants": [(v["sku"], v["price"]["amount"], v["availability"]["status"],
                                   v["availability"]["quantityAvailable"]) for v in ring["variants"]],
                     "version": message["version"]}
            if self.seen and state == self.seen[-1]:
                continue
            self.seen.append(state)
            return state

    def stderr(self) -> str:
        self.stop()
        assert self.process.stderr is not None
        return self.process.stderr.read()[-3000:]

    def stop(self) -> None:
        stop_process(self.process, timeout=5)


@contextlib.contextmanager
def subscribed(node: str, url: str, clients: list[str], manifest: Path | None) -> Iterator[list[Subscriber]]:
    started = [Subscriber(node, client, url, manifest) for client in clients]
    try:
        yield started
    finally:
        for subscriber in started:
            subscriber.stop()


def hear_the_first_state_a_price_edit_then_the_sale(node: str, url: str, sandbox: Sandbox, clients: list[str], *,
                                                     shop: str | None = None, manifest: Path | None = None) -> None:
    """`clients` subscribe at `url` (by the ids of `manifest`, if given); the ring is sold at `shop` (else `url`)."""
    with subscribed(node, url, clients, manifest) as subscribers:
        for subscriber in subscribers:  # the first message: the ring as it is
            first = subscriber.next_state()
            assert first["price"] == "42000.00", (subscriber.client, first)
            assert first["variants"] == [(SKU, "42000.00", "LOW_STOCK", 1)], (subscriber.client, first)
            assert first["version"], subscriber.client

        sandbox.set_price(SKU, "43500.00")  # the catalog's products/update webhook
        for subscriber in subscribers:
            edited = subscriber.next_state()
            assert edited["price"] == "43500.00", (subscriber.client, subscriber.seen)
            assert edited["variants"] == [(SKU, "43500.00", "LOW_STOCK", 1)], (subscriber.client, subscriber.seen)

        with httpx.Client(base_url=shop or url, timeout=15) as http:  # sold through Bezel
            variants = http.post("/graphql", json={"query": VARIANTS, "variables": {"h": RING}})
            ring = variants.json()["data"]["product"]["variants"][0]["id"]
            placed = http.post("/graphql", json={"query": PLACE, "variables": {"i": order_input(
                [{"variantId": ring}], key=str(uuid.uuid4()))}}).json()["data"]["placeOrder"]
            assert placed["order"]["status"] == "CONFIRMED", placed
        for subscriber in subscribers:
            sold = subscriber.next_state()
            assert sold["variants"] == [(SKU, "43500.00", "OUT_OF_STOCK", 0)], (subscriber.client, subscriber.seen)


def test_apollo_graphql_sse_and_urql_hear_the_ring_as_it_is_then_a_price_edit_then_its_sale(
    node: str, live_gateway: str, sandbox: Sandbox,
) -> None:
    hear_the_first_state_a_price_edit_then_the_sale(node, live_gateway, sandbox, HTTP_CLIENTS)


def test_by_trusted_document_id_on_another_process_each_hears_the_same(
    node: str, live_gateway: str, trusted_gateway: str, sandbox: Sandbox,
) -> None:
    """Production: only the manifest's operations run, so a client that fell back to the text is refused."""
    hear_the_first_state_a_price_edit_then_the_sale(node, trusted_gateway, sandbox, HTTP_CLIENTS, shop=live_gateway,
                                                     manifest=MANIFEST)


def test_graphql_ws_hears_the_ring_as_it_is_then_a_price_edit_then_its_sale(
    node: str, live_gateway: str, sandbox: Sandbox,
) -> None:
    hear_the_first_state_a_price_edit_then_the_sale(node, live_gateway, sandbox, ["graphql-ws"])
