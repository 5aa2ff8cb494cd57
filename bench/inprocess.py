"""The gateway in this process with the sandbox vendors in-process at zero latency, every answer warm.

What is left to measure is the gateway's own CPU: no sockets, no vendor waits. Used by the tracing
cost and the warm-page profile, which both need an app they can reach into.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from bench.common import shopper_address


def _configure() -> None:
    os.environ["BEZEL_ENV"] = "test"
    os.environ["BEZEL_SANDBOX__URL"] = "http://sandbox"
    os.environ["BEZEL_GATEWAY__TRUSTED_PROXIES"] = '["127.0.0.1/32"]'  # each request names its shopper
    for vendor in ("CATALOG", "INVENTORY", "TAX", "INSURANCE", "BNPL", "ENGRAVING"):
        os.environ[f"BEZEL_VENDORS__{vendor}__CACHE_TTL_S"] = "3600"


@asynccontextmanager
async def warm_app() -> AsyncIterator[Any]:
    """The gateway's ASGI app, started, its vendors the in-process sandbox."""
    from gateway.app import create_app
    from gateway.settings import load_settings
    from sandbox import create_app as create_sandbox

    _configure()
    sandbox = httpx.ASGITransport(app=create_sandbox(latency_scale=0.0))
    await _stock_everything(sandbox)
    app = create_app(load_settings(), vendor_transport=sandbox)
    async with app.router.lifespan_context(app):
        yield app


async def _stock_everything(sandbox: httpx.ASGITransport, quantity: int = 10) -> None:
    """Every SKU comfortably above safety stock, so stock too is answered from cache."""
    async with httpx.AsyncClient(transport=sandbox, base_url="http://sandbox") as client:
        products = (await client.get("/catalog/admin/api/2024-10/products.json", params={"limit": 250})).json()
        for product in products["products"]:
            for variant in product["variants"]:
                (await client.put(f"/_admin/stock/{variant['sku']}", json={"quantity": quantity})).raise_for_status()


_shoppers = itertools.count()


async def post(app: Any, body: bytes) -> tuple[int, bytes]:
    """One POST /graphql straight into the ASGI app, from the next shopper: no client library on the profile."""
    sent: list[dict[str, Any]] = []
    request = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"bezel"), (b"content-type", b"application/json"),
                                          (b"content-length", str(len(body)).encode()),
                                          (b"x-forwarded-for", shopper_address(next(_shoppers)).encode())],
             "client": ("127.0.0.1", 50000), "server": ("bezel", 80), "state": {}}
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@asynccontextmanager
async def warm_gateway() -> AsyncIterator[httpx.AsyncClient]:
    """A client for the gateway app; answers stay fresh for the whole run, stock included."""
    async with warm_app() as app:
        transport = httpx.ASGITransport(app=app)
        async def next_shopper(request: httpx.Request) -> None:
            request.headers["x-forwarded-for"] = shopper_address(next(_shoppers))

        async with httpx.AsyncClient(transport=transport, base_url="http://bezel",
                                     event_hooks={"request": [next_shopper]}) as client:
            yield client


async def check(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    if response.status_code != 200 or "errors" in response.json():
        raise RuntimeError(f"the page does not answer cleanly: {response.text[:300]}")
