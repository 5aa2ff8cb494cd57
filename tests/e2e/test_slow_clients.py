"""Slow and oversized requests against `bezel serve` as it ships (real sockets, real uvicorn): a client
that sends its headers or its body a byte at a time, or sends a megabyte of headers, is answered and
closed, and holds nothing a shopper needs meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.handle import Sandbox, free_port, spawned
from tests.support import PRODUCT_PAGE_QUERY, ROOMY, STAGING, run_switches

ROOT = Path(__file__).resolve().parents[2]
SLOTS = 8  # max_in_flight: far fewer than the slow connections, so any slot they held would show


@contextlib.contextmanager
def serve(sandbox: Sandbox, **settings: str) -> Iterator[str]:
    """`bezel serve` in production mode (staging's overrides: the sandbox, texts), without Redis, with
    `BEZEL_*` overrides; its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEZEL_", "OTEL_"))}
    env.pop("REDIS_URL", None)
    env.update(ROOMY)
    env.update({"BEZEL_SANDBOX__URL": sandbox.url, **STAGING, "BEZEL_LOG_LEVEL": "WARNING",
                "OTEL_SDK_DISABLED": "true", **run_switches(), **settings})
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--admin-port", "0"]
    with spawned(args, health=f"{url}/healthz", env=env, cwd=ROOT):
        yield url


@pytest.fixture(scope="module")
def served(sandbox_process: Sandbox) -> Iterator[str]:
    with serve(sandbox_process, BEZEL_GATEWAY__MAX_IN_FLIGHT=str(SLOTS), BEZEL_GATEWAY__BODY_TIMEOUT_MS="1000",
               BEZEL_GATEWAY__HEADER_TIMEOUT_MS="1000") as url:
        yield url


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def _trickle(url: str, head: bytes, trickled: bytes, *, every_s: float = 0.2) -> tuple[bytes, float]:
    """Send `head` at once, then `trickled` a byte per `every_s`; the answer's status line, and when
    it came (seconds). A connection the server closes mid-trickle answers what it was sent before."""
    reader, writer = await _connect(url)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = asyncio.create_task(reader.read(4096))
    try:
        writer.write(head)
        for byte in trickled:
            if answer.done():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every_s)
        data = await asyncio.wait_for(answer, 10)
        return data.split(b"\r\n", 1)[0], loop.time() - started
    except (ConnectionError, OSError):
        return (answer.result() if answer.done() and not answer.exception() else b"").split(b"\r\n", 1)[0], \
            loop.time() - started
    finally:
        answer.cancel()
        writer.close()


def _page_body() -> bytes:
    import json

    return json.dumps({"query": PRODUCT_PAGE_QUERY, "variables": {}}).encode()


async def test_slowloris_and_slow_bodies_are_timed_out_while_shoppers_are_served(served: str) -> None:
    body = _page_body()
    slowloris = [
        _trickle(served, b"POST /graphql HTTP/1.1\r\nhost: shop\r\n", b"x-slow: " + b"a" * 200)
        for _ in range(100)
    ]
    slow_bodies = [
        _trickle(served, b"POST /graphql HTTP/1.1\r\nhost: shop\r\ncontent-type: application/json\r\n"
                 b"content-length: %d\r\n\r\n" % len(body), body)
        for _ in range(100)
    ]
    attackers = asyncio.gather(*slowloris, *slow_bodies)
    await asyncio.sleep(0.3)  # every slow connection is open and trickling
    async with httpx.AsyncClient(base_url=served, timeout=10) as shopper:
        statuses = []
        for _ in range(20):
            response = await shopper.post("/graphql", json={"query": PRODUCT_PAGE_QUERY})
            statuses.append(response.status_code)
            assert "errors" not in response.json()
    answered = await attackers
    assert statuses == [200] * 20
    assert {line for line, _ in answered} == {b"HTTP/1.1 408 Request Timeout"}
    assert max(took for _, took in answered) < 1 + 3  # each told within its timeout, by a generous margin


async def test_a_megabyte_of_headers_is_refused_with_431(served: str) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        huge = await client.get("/healthz", headers={"x-big": "a" * 1_000_000})
        many = await client.get("/healthz", headers={f"x-h{i}": "1" for i in range(150)})
        fine = await client.get("/healthz")
    assert (huge.status_code, many.status_code, fine.status_code) == (431, 431, 200)


async def test_a_connection_that_never_speaks_is_closed(served: str) -> None:
    reader, writer = await _connect(served)
    try:
        data = await asyncio.wait_for(reader.read(4096), 5)
    finally:
        writer.close()
    assert data.startswith(b"HTTP/1.1 408")


def test_a_forwarded_for_header_from_an_untrusted_peer_changes_nobody(sandbox_process: Sandbox) -> None:
    """No trusted proxies configured: the client is the TCP peer, whatever X-Forwarded-For says (uvicorn
    alone would have believed it from 127.0.0.1), so rotating it does not buy a fresh budget."""
    with serve(sandbox_process, BEZEL_LIMITS__PAGES="3/minute") as url:
        statuses = [httpx.post(f"{url}/graphql", json={"query": "{ __typename }"},
                               headers={"x-forwarded-for": f"203.0.113.{i}"}, timeout=10).status_code
                    for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
