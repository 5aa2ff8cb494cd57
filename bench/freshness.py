"""Time to truth, and ghost offers in a drop: `python -m bench.freshness` (also in `make bench`).

Two `bezel serve` processes (A and B) on one Redis, the sandbox's systems separate (the ERP passes stock
on to the inventory system a minute later, as the seeds' integrations do) and sending their signed
webhooks to A, as a load balancer would send them to any one process:

- (a) a sale on A to the first page on B that shows it sold (polled every 5 ms with a light page);
- (b) a stock change in the inventory system (a shop sale: its webhook) to the first page on *every*
  process that shows it, delivery included (the sandbox's default 50 +/- 50 ms);
- (c) a price change in Shopify (its webhook) to the same;
- a drop: 300 shoppers on 5 one-of-a-kind pieces, each loading a piece's page on A or B and buying it
  if shown available: orders, oversells, and ghost offers (a page asked for after the piece's sale was
  confirmed that still offered it; the target is 0).

Before events and Bezel's own counters, (a) was "never" while the ERP was down (the page asked only the
inventory vendor, which hears of a sale through the ERP), (b) the stock TTL (5 s), (c) the catalog's
TTL and revalidation (60 s + 300 s). Results: bench/results/freshness.md and .json.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp

from bench import env
from bench.common import RESULTS, machine, percentiles

WEBHOOK_SECRETS = {"SHOPIFY_WEBHOOK_SECRET": "bench-shopify", "COMMERCETOOLS_WEBHOOK_TOKEN": "bench-commercetools",
                   "ERP_WEBHOOK_SECRET": "bench-erp"}
STOCK = """query($h: String!) { product(handle: $h) { variants { id sku price { amount } availability {
  status quantityAvailable } } } }"""
PLACE = """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id } userErrors { code } } }"""
PIECES = ("art-deco-emerald-ring", "padparadscha-cocktail-ring", "victorian-diamond-brooch", "ruby-drop-earrings",
          "akoya-pearl-strand")
ADDRESS = {"countryCode": "US", "provinceCode": "NY", "zip": "10001"}
POLL_S = 0.005
OFFERED = ("IN_STOCK", "LOW_STOCK")  # what a page shows when it offers a piece


def main() -> int:
    redis_url = env.redis_url()
    if redis_url is None:
        print("bench.freshness: no Redis (REDIS_URL)")
        return 1
    started = time.time()
    with env.sandbox() as box:
        extra = {"REDIS_URL": redis_url, **WEBHOOK_SECRETS, "BEZEL_LIMITS__PAGES": "100000/second",
                 "BEZEL_LIMITS__CHECKOUT": "100000/second", "BEZEL_CHECKOUT__MAX_IN_FLIGHT_PER_CLIENT": "1000"}
        with env.gateway(box, **extra) as a, env.gateway(box, **extra) as b:
            box.wire = lambda: box.webhooks(  # type: ignore[attr-defined]  # again after every reset
                to=a.url, secrets={"shopify": WEBHOOK_SECRETS["SHOPIFY_WEBHOOK_SECRET"],
                                   "commercetools": WEBHOOK_SECRETS["COMMERCETOOLS_WEBHOOK_TOKEN"],
                                   "erp": WEBHOOK_SECRETS["ERP_WEBHOOK_SECRET"]})
            results = {
                "sale_to_other_process": asyncio.run(_sales(box, a.url, b.url, rounds=30)),
                "stock_event_to_every_process": asyncio.run(_stock_events(box, a.url, b.url, rounds=30)),
                "price_event_to_every_process": asyncio.run(_price_events(box, a.url, b.url, rounds=30)),
                "drop": asyncio.run(_drop(box, a.url, b.url, shoppers=300)),
            }
    doc = {"command": "python -m bench.freshness", "machine": machine(), "elapsed_s": round(time.time() - started),
           "results": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "freshness.json").write_text(json.dumps(doc, indent=1) + "\n")
    (RESULTS / "freshness.md").write_text(render(doc))
    print(render(doc))
    return 0


async def _page(session: aiohttp.ClientSession, url: str, handle: str) -> list[dict[str, Any]]:
    async with session.post(f"{url}/graphql", json={"query": STOCK, "variables": {"h": handle}}) as response:
        return (await response.json())["data"]["product"]["variants"]


async def _until(session: aiohttp.ClientSession, url: str, handle: str, sku: str, shows: Any,
                 timeout_s: float = 10.0) -> float:
    """When (time.monotonic) the first page asked for on `url` showed what `shows(variant)` accepts."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        asked = time.monotonic()
        variant = next(v for v in await _page(session, url, handle) if v["sku"] == sku)
        if shows(variant):
            return asked
        await asyncio.sleep(POLL_S)
    return float("inf")


async def place(session: aiohttp.ClientSession, url: str, variant_id: str, n: int,
                document: dict[str, str] | None = None) -> str:
    """Shopper n buys one of a variant: CONFIRMED or the first user error's code. `document`: sent by its
    trusted id (`documentId`, `operationName`) as the storefront does, else as PLACE's text."""
    order = {"idempotencyKey": str(uuid.uuid4()), "lines": [{"variantId": variant_id}], "shipTo": ADDRESS,
             "email": f"shopper{n}@example.com", "paymentToken": "tok_visa", "insure": False}
    body = {**(document or {"query": PLACE}), "variables": {"input" if document else "i": order}}
    headers = {"x-forwarded-for": f"198.51.{n // 250 % 250}.{n % 250 + 1}"}
    async with session.post(f"{url}/graphql", json=body, headers=headers) as response:
        answer = await response.json(content_type=None)
        placed = (answer.get("data") or {}).get("placeOrder")
    if placed is None:  # refused whole (a limit, an error): its code, so a drop counts it and goes on
        return ((answer.get("errors") or [{}])[0].get("extensions") or {}).get("code") or f"HTTP {response.status}"
    return "CONFIRMED" if placed["order"] else placed["userErrors"][0]["code"]


async def _sales(box: env.Sandbox, a: str, b: str, *, rounds: int) -> dict[str, Any]:
    """(a): a one-unit SKU sold on A; how long until B's next page shows it sold. The ERP is down."""
    _reset(box)
    box.fault("erp", status=503)
    band = "classic-comfort-band"
    lags, answered = [], []
    async with aiohttp.ClientSession() as session:
        variants = await _page(session, b, band)
        for n, v in enumerate(variants[:rounds]):
            box.set_stock(v["sku"], 1)
            await _until(session, b, band, v["sku"], lambda x: x["availability"]["status"] == "LOW_STOCK")
            outcome = await place(session, a, v["id"], n)
            sold = time.monotonic()
            if outcome != "CONFIRMED":
                continue
            shown = await _until(session, b, band, v["sku"], lambda x: x["availability"]["status"] == "OUT_OF_STOCK")
            lags.append((shown - sold) * 1000)
            answered.append((time.monotonic() - sold) * 1000)
    _reset(box)
    return {"rounds": len(lags), "ms": percentiles(lags), "raw_ms": [round(x, 1) for x in lags],
            "answered_ms": percentiles(answered),
            "before": "never while the ERP is down (the page asked the inventory vendor alone)"}


async def _stock_events(box: env.Sandbox, a: str, b: str, *, rounds: int) -> dict[str, Any]:
    """(b): the inventory system's level changed (a shop sale), its webhook to A; until both show it."""
    _reset(box)
    band = "classic-comfort-band"
    lags = []
    async with aiohttp.ClientSession() as session:
        variants = await _page(session, b, band)
        for v in variants[rounds:2 * rounds]:  # not the SKUs sold in (a): their counters say 0 until reconciled
            box.set_stock(v["sku"], 20)
            for url in (a, b):  # cached on both: 20 is above safety stock, so served from cache for 5 s
                await _until(session, url, band, v["sku"], lambda x: x["availability"]["quantityAvailable"] == 20)
            changed = time.monotonic()
            box.set_inventory_stock(v["sku"], 12)
            shown = await asyncio.gather(*(_until(session, url, band, v["sku"], lambda x: x["availability"][
                "quantityAvailable"] == 12) for url in (a, b)))
            lags.append((max(shown) - changed) * 1000)
    return {"rounds": len(lags), "ms": percentiles(lags), "raw_ms": [round(x, 1) for x in lags],
            "before": "the stock TTL: up to 5 s"}


async def _price_events(box: env.Sandbox, a: str, b: str, *, rounds: int) -> dict[str, Any]:
    """(c): a price edited in Shopify, its products/update to A; until both processes' pages show it."""
    _reset(box)
    band = "classic-comfort-band"
    lags = []
    async with aiohttp.ClientSession() as session:
        variants = await _page(session, b, band)
        for n, v in enumerate(variants[2 * rounds:3 * rounds]):
            for url in (a, b):
                await _page(session, url, band)
            price = f"{Decimal(v['price']['amount']) + n + 1:.2f}"
            changed = time.monotonic()
            box.set_price(v["sku"], price)
            shown = await asyncio.gather(*(_until(session, url, band, v["sku"], lambda x, price=price: x["price"][
                "amount"] == price) for url in (a, b)))
            lags.append((max(shown) - changed) * 1000)
    _reset(box)
    return {"rounds": len(lags), "ms": percentiles(lags), "raw_ms": [round(x, 1) for x in lags],
            "before": "the catalog's TTL and revalidation: up to 60 s + 300 s"}


@dataclass(frozen=True, slots=True)
class Look:
    """What one shopper's page showed of the piece, and how it came (an edge's x-cache and Age, if any)."""

    status: str
    via: str = ""
    age_s: int | None = None

    @property
    def offered(self) -> bool:
        return self.status in OFFERED


async def drop(look: Callable[[int, str], Awaitable[Look]], buy: Callable[[int, str], Awaitable[str]],
               pieces: Sequence[str], *, shoppers: int, arrive_s: float = 3.0, seed: int = 7) -> dict[str, Any]:
    """Shoppers arriving over `arrive_s` on one-of-a-kind pieces: shopper n loads a piece's page
    (`look(n, handle)`) and buys it if the page offers it (`buy(n, handle)`: CONFIRMED or the refusal's code).
    Counted from the shoppers' side: orders, oversells, and ghost offers (a page asked for after the piece's
    sale was confirmed, i.e. its placeOrder answer had arrived, that still offered it); for pages that came
    through an edge, which of them it served (`Look.via`)."""
    sold_at: dict[str, float] = {}
    confirmed: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    offers: list[tuple[str, float, Look]] = []
    pages_via: Counter[str] = Counter()
    rng = random.Random(seed)

    async def shopper(n: int) -> None:
        await asyncio.sleep(rng.uniform(0, arrive_s))
        handle = rng.choice(pieces)
        asked = time.monotonic()
        seen = await look(n, handle)
        if seen.via:
            pages_via[seen.via] += 1
        if not seen.offered:
            outcomes["saw it sold" if seen.status == "OUT_OF_STOCK" else f"page: {seen.status}"] += 1
            return
        offers.append((handle, asked, seen))
        outcome = await buy(n, handle)
        outcomes[outcome] += 1
        if outcome == "CONFIRMED":
            confirmed[handle] += 1
            sold_at.setdefault(handle, time.monotonic())

    await asyncio.gather(*(shopper(n) for n in range(shoppers)))
    # After the gather: a sale confirmed after a page was checked still dates the pages asked after it.
    ghosts = [{"piece": handle, "page_asked_after_sale_ms": round((asked - sold_at[handle]) * 1000, 1),
               **({"via": seen.via, "age_s": seen.age_s} if seen.via else {})}
              for handle, asked, seen in offers if handle in sold_at and asked > sold_at[handle]]
    orders = outcomes["CONFIRMED"]
    found: dict[str, Any] = {
        "shoppers": shoppers, "pieces": len(pieces), "orders": orders,
        "oversold": sum(max(0, n - 1) for n in confirmed.values()), "outcomes": dict(outcomes),
        "ghost_offers_after_sale": len(ghosts), "ghosts": ghosts[:20],
        "ghost_offers_per_sold_piece": round(len(ghosts) / max(1, orders), 3)}
    if pages_via:
        found["pages_via"] = dict(sorted(pages_via.items()))
        found["ghosts_via"] = dict(sorted(Counter(g["via"] for g in ghosts).items()))
    return found


async def _drop(box: env.Sandbox, a: str, b: str, *, shoppers: int) -> dict[str, Any]:
    """300 shoppers, 5 one-of-a-kind pieces, two processes (each page and each checkout on either)."""
    _reset(box)
    async with aiohttp.ClientSession() as session:
        ids = {}
        for handle in PIECES:
            variant = (await _page(session, a, handle))[0]
            box.set_stock(variant["sku"], 1)
            ids[handle] = variant
        route = random.Random(11)

        async def look(n: int, handle: str) -> Look:
            return Look((await _page(session, route.choice((a, b)), handle))[0]["availability"]["status"])

        async def buy(n: int, handle: str) -> str:
            return await place(session, route.choice((a, b)), ids[handle]["id"], n)

        found = await drop(look, buy, PIECES, shoppers=shoppers)
        left = {handle: box.stock(v["sku"])["inventory"] for handle, v in ids.items()}
    _reset(box)
    return {**found, "inventory_after": left}


def _reset(box: env.Sandbox) -> None:
    """The sandbox's starting state (reset also forgets where its webhooks go: wired again)."""
    box.reset()
    box.wire()  # type: ignore[attr-defined]


def render(doc: dict[str, Any]) -> str:
    r, m = doc["results"], doc["machine"]
    lines = ["# Time to truth, and a drop", "", f"Command: `{doc['command']}` ({doc['elapsed_s']} s)  ",
             f"Machine: {m['cores']} cores, {m['cpu']}; git {m['git']}; {m['when']}  ",
             "Two `bezel serve` processes (A, B) on one Redis; the sandbox's systems separate, webhooks to A "
             "(delivery 50 +/- 50 ms).", "",
             "| from | to | p50 / p95 / p99 (ms) | target | before |", "|---|---|---|---|---|"]
    for key, what, target in (("sale_to_other_process", "a sale on A (ERP down)", "<= 50 ms"),
                              ("stock_event_to_every_process", "a shop sale in the inventory system (webhook)",
                               "<= 1 s"),
                              ("price_event_to_every_process", "a price edited in Shopify (webhook)", "<= 1 s")):
        x = r[key]
        p = x["ms"]
        lines.append(f"| {what} | the first page on {'B' if key.startswith('sale') else 'every process'} "
                     f"showing it | {p['median']:.1f} / {p['p95']:.1f} / {p['p99']:.1f} ({x['rounds']} rounds) | "
                     f"{target} | {x['before']} |")
    a = r["sale_to_other_process"]["answered_ms"]
    lines += ["", "A sale's time is when its placeOrder answer arrived; a page's, when it was asked for (so a "
              "page's own latency is not counted as staleness). The first page B was asked for after each sale "
              f"showed it: its answer arrived {a['median']:.1f} / {a['p95']:.1f} / {a['p99']:.1f} ms (p50 / p95 / "
              "p99) after the sale, the page's own time (a live stock check below safety stock)."]
    d = r["drop"]
    lines += ["", f"**A drop**: {d['shoppers']} shoppers on {d['pieces']} one-of-a-kind pieces over two processes: "
              f"{d['orders']} orders, {d['oversold']} oversold, ghost offers after a sale was confirmed: "
              f"{d['ghost_offers_after_sale']} ({d['ghost_offers_per_sold_piece']} per sold piece; target 0). "
              f"Outcomes: {d['outcomes']}. (A shopper whose page came before the sale and who then lost the race "
              "was offered the piece honestly; the count is of pages asked for after it.)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
