"""Where the 1,200-variant page's CPU goes: the gateway in-process, every answer warm, and the catalog read apart.

    .venv/bin/python -m bench.variants_profile    # writes bench/results/variants_profile.{txt,json}

For the 30-, 220- and 1,200-variant pages (the README's page, `bench.pages`): CPU per page with every
vendor answer in cache, posted straight into the ASGI app (`bench.inprocess`), the answer's size, and a
cProfile of the 1,200-variant page (functions by own time; cProfile inflates small calls, so read it for
where, not how much). Then what reading the product costs the gateway when
it is not cached: the Storefront API's answers for each product recorded from the in-process sandbox,
then decoded and mapped (`CatalogAPI`'s parse and its follow-ups) from memory, so the sandbox's own
work is not counted.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import time
from typing import Any

import httpx
import orjson

from bench.pages import BIG, STANDARD
from bench.variants import CONFIGURATOR

HANDLES = (STANDARD, BIG, CONFIGURATOR)
WARMUP, TIMED, PROFILED, PARSES = 20, 200, 100, 50


class _Recording(httpx.AsyncBaseTransport):
    """The sandbox's answers, kept in order, for replaying the parse without it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.bodies.append(body)
        return httpx.Response(response.status_code, headers=response.headers, content=body)


async def _catalog_read(handle: str) -> dict[str, Any]:
    from connectors import catalog
    from connectors.catalog import CatalogAPI
    from connectors.http import Continue, VendorClient
    from sandbox import create_app as create_sandbox

    recording = _Recording(httpx.ASGITransport(app=create_sandbox(latency_scale=0.0)))
    client = VendorClient("catalog", "http://sandbox/catalog", read_error=catalog.read_error,
                          transport=recording)
    api = CatalogAPI()
    product = (await client.execute(api.products_by_handle([handle])))[handle]
    await client.aclose()
    started = time.process_time()
    for _ in range(PARSES):
        answer: Any = api.products_by_handle([handle]).parse(orjson.loads(recording.bodies[0]))
        for body in recording.bodies[1:]:
            assert isinstance(answer, Continue)
            answer = answer.parse(orjson.loads(body))
    parse_ms = (time.process_time() - started) / PARSES * 1000
    return {"variants": len(product.variants), "requests": len(recording.bodies),
            "bytes": sum(map(len, recording.bodies)), "parse_ms": round(parse_ms, 2)}


async def _pages() -> dict[str, Any]:
    from bench.inprocess import post, warm_app
    from bench.pages import page_body

    out: dict[str, Any] = {}
    async with warm_app() as app:
        for handle in HANDLES:
            body = page_body(handle)
            for _ in range(WARMUP):
                status, answer = await post(app, body)
                if status != 200 or b'"errors"' in answer:
                    raise RuntimeError(f"{handle}: the page does not answer cleanly: {answer[:300]!r}")
            cpu0 = time.process_time()
            for _ in range(TIMED):
                await post(app, body)
            out[handle] = {"cpu_ms_per_page": round((time.process_time() - cpu0) / TIMED * 1000, 2),
                           "response_bytes": len(answer)}
        profile = cProfile.Profile()  # the stdlib's: pyinstrument is a `bench` extra, not always installed
        profile.enable()
        for _ in range(PROFILED):
            await post(app, page_body(CONFIGURATOR))
        profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(30)
    out["flat"] = text.getvalue()
    return out


def main() -> None:
    from bench.common import RESULTS, machine

    pages = asyncio.run(_pages())
    reads = {handle: asyncio.run(_catalog_read(handle)) for handle in HANDLES}
    stamp = machine()
    lines = [f"Product pages by variant count, in-process (no sockets), every answer warm; {TIMED} pages each",
             "Command: .venv/bin/python -m bench.variants_profile",
             f"Machine: {stamp['cores']} cores, {stamp['cpu']}; Python {stamp['python']}; git {stamp['git']}; "
             f"{stamp['when']}", "",
             "| page | variants | CPU ms/page (warm) | answer bytes | catalog read: requests, bytes, decode+map ms |",
             "|---|---|---|---|---|"]
    for handle in HANDLES:
        page, read = pages[handle], reads[handle]
        lines.append(f"| {handle} | {read['variants']} | {page['cpu_ms_per_page']} | {page['response_bytes']} | "
                     f"{read['requests']}, {read['bytes']}, {read['parse_ms']} |")
    title = "== The 1,200-variant page, cProfile, top functions by own time =="
    text = "\n".join(lines) + f"\n\n{title}\n{pages['flat']}\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "variants_profile.txt").write_text(text)
    (RESULTS / "variants_profile.json").write_text(orjson.dumps(
        {"command": ".venv/bin/python -m bench.variants_profile", "machine": stamp,
         "pages": {h: pages[h] for h in HANDLES}, "catalog_reads": reads}, option=orjson.OPT_INDENT_2).decode()
        + "\n")
    print(text)


if __name__ == "__main__":
    main()
