"""Live pages and the inventory system's events, on one process served as a worker serves it, with a real
Redis and the sandbox's signed webhooks: each new level above the safety stock reaches an open page (and
the next page read); a read after an event that came back unconfirmed is read again, not left standing
until the next event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from resolvers.live import READ_RETRIES
from sandbox.handle import Sandbox
from tests.e2e.test_ghost_stock import PAGE, SECRETS
from tests.live import MULTIPART_ACCEPT, SSE_ACCEPT, subscribe
from tests.support import Served, serve_in_process, settings_for

PRODUCT = """subscription($h: String!) { productChanged(handle: $h) { variants { sku
  availability { status quantityAvailable path } } } }"""
BAND = "classic-comfort-band"
BROOCH = "victorian-diamond-brooch"


@contextlib.asynccontextmanager
async def live(sandbox: Sandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> AsyncIterator[Served]:
    """A gateway the sandbox's systems send their signed webhooks to."""
    for name, secret in SECRETS.items():
        monkeypatch.setenv(name, secret)
    sandbox.webhooks(secrets={"shopify": SECRETS["SHOPIFY_WEBHOOK_SECRET"],
                              "commercetools": SECRETS["COMMERCETOOLS_WEBHOOK_TOKEN"],
                              "erp": SECRETS["ERP_WEBHOOK_SECRET"]})
    async with serve_in_process(settings_for(sandbox, REDIS_URL=redis_url, **env)) as s:
        sandbox.webhooks(to=s.url, delay_ms=0, jitter_ms=0)
        yield s


@pytest.fixture
async def served(sandbox: Sandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    async with live(sandbox, redis_url, monkeypatch) as s:
        yield s


def shown(message: dict[str, Any] | None, sku: str) -> tuple[str, int | None]:
    assert message is not None
    assert "errors" not in message, message
    found = next(v for v in message["data"]["productChanged"]["variants"] if v["sku"] == sku)["availability"]
    return found["status"], found["quantityAvailable"]


@pytest.mark.parametrize("accept", [SSE_ACCEPT, MULTIPART_ACCEPT])
@pytest.mark.parametrize("via", ["commercetools", "shopify"])
async def test_each_new_level_above_the_safety_stock_reaches_an_open_page_and_the_next_read(
    served: Served, sandbox: Sandbox, accept: str, via: str,
) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=httpx.Timeout(10, read=15)) as http, \
            subscribe(http, PRODUCT, {"h": BAND}, accept=accept) as page:
        first = await page.next()
        assert first is not None
        sku = first["data"]["productChanged"]["variants"][0]["sku"]
        for quantity in (20, 21):
            await asyncio.to_thread(sandbox.set_inventory_stock, sku, quantity, via=via)  # the inventory system's event
            told = await asyncio.wait_for(page.next(), 3.0)
            assert shown(told, sku) == ("IN_STOCK", quantity)
            read = (await http.post("/graphql", json={"query": PAGE, "variables": {"h": BAND}})).json()
            level = next(v for v in read["data"]["product"]["variants"] if v["sku"] == sku)["availability"]
            assert (level["status"], level["quantityAvailable"]) == ("IN_STOCK", quantity)


async def test_a_read_after_an_event_that_comes_back_unconfirmed_is_read_again(
    sandbox: Sandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given a page on the one-of-a-kind brooch (below the safety stock: every read asks the inventory
    system), when the inventory system's event arrives and the hub's read of it fails at the vendor once,
    then the page is still told the confirmed new level, read again after a backoff."""
    # One attempt per vendor call, so the one fault is the hub's read's, not absorbed by the call policy.
    async with live(sandbox, redis_url, monkeypatch, BEZEL_VENDORS__INVENTORY__RETRY_ATTEMPTS="1") as served, \
            httpx.AsyncClient(base_url=served.url, timeout=httpx.Timeout(10, read=15)) as http, \
            subscribe(http, PRODUCT, {"h": BROOCH}) as page:
        sku = (await page.next() or {})["data"]["productChanged"]["variants"][0]["sku"]
        retried = READ_RETRIES.counts[(("field", "productChanged"), ("reason", "unconfirmed"))]
        sandbox.fault("inventory", status=503, times=1)  # the hub's next read of it fails at the vendor
        await asyncio.to_thread(sandbox.set_inventory_stock, sku, 2)
        told = []
        while not told or told[-1] != ("LOW_STOCK", 2):  # an unconfirmed state may come first; then the truth
            told.append(shown(await asyncio.wait_for(page.next(), 5.0), sku))
        assert READ_RETRIES.counts[(("field", "productChanged"), ("reason", "unconfirmed"))] == retried + 1
