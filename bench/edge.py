"""The catalog behind an edge: `python -m bench.edge [--seconds 20] [--changes 40] [--drops 3] [--drop-only]`.

One `bezel serve` (one worker, core 0, Redis for checkout) on the sandbox; Debian's Varnish with
deploy/varnish/default.vcl in front of it (core 1, with the sandbox and the load). The same catalog-heavy mix
is sent to Varnish, then straight to the gateway (no edge), closed loop, by GET with trusted document ids as a
storefront's CDN path would: list pages (12 products, 4 pages) and product pages (the public part: catalog,
options, prices, stock) of the seed catalog, both Zipf-popular (s = 1.1), and 10% per-shopper parts (tax for
the shopper's ZIP: private, so they always reach the gateway). Measured:

- pages/s served; the edge hit ratio (Varnish's x-cache); the gateway's requests/s, its CPU per page served
  and per request it answered; Varnish's CPU per page;
- from a price change (the catalog's products/update webhook sent to the gateway) and from a sale through
  Bezel (placeOrder's answer reaching the buyer) to Varnish serving the new answer: p50/p99, polling
  every 5 ms;
- a drop through Varnish (bench.freshness's, shared: `drop`): 300 shoppers on 5 one-of-a-kind pieces, each
  loading a piece's public part (the storefront's ProductPublic document, by GET through Varnish, as JSON)
  and buying it if shown available (the storefront's PlaceOrder document, by POST straight to the gateway):
  orders, oversells, and ghost offers counted from the shoppers' side (pages asked for after the piece's
  sale was confirmed that still offered it, and whether Varnish served them from its cache: x-cache, Age),
  beside the gateway's own `bezel_ghost_offers_total`, which never hears of a page the edge served. As
  shipped (`[edge] scarce_max_age_s = 0`: a piece's page is private, the edge never keeps it) and with
  `scarce_max_age_s = 5` (the edge keeps it until the next event's purge), `--drops` times each, each drop
  on a new gateway, Varnish and empty Redis. `--drop-only` runs the drops alone and adds them to the
  committed results.

The gateway's adaptive in-flight limit is off (16 connections never overload it; on a shared machine it
sheds on loop lag other work causes). The load generator is Python (aiohttp) on the load core: pages/s
through the edge are bounded by it, not by Varnish; the figures that carry to production are the gateway's
CPU per page and the hit ratio.
Results: bench/results/edge.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import glob
import hashlib
import hmac
import json
import os
import random
import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx

from bench import env
from bench.common import RESULTS, machine, percentiles, write
from bench.freshness import PIECES, Look, drop, place
from sandbox.handle import free_port
from sandbox.seed import build_catalog

OPERATIONS = {
    "List": "query List($first: Int!, $after: String) { products(first: $first, after: $after) { nodes { id handle "
            "title priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } } "
            "images { url altText } } pageInfo { hasNextPage endCursor } } }",
    "Product": "query Product($handle: String!) { product(handle: $handle) { id handle title description "
               "options { name values } images { url altText } variants { id sku title price { amount currencyCode } "
               "selectedOptions { name value } availability { status quantityAvailable } } } }",
    "Shopper": "query Shopper($handle: String!, $shipTo: AddressInput!) { product(handle: $handle) { id "
               "taxEstimate(shipTo: $shipTo) { rate amountToCollect { amount } } } }",
}
IDS = {name: hashlib.sha256(body.encode()).hexdigest() for name, body in OPERATIONS.items()}
PLACE = """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id } userErrors { code } } }"""
SECRET = "bench-shopify-secret"
ZIPF_S = 1.1
SHOPPER_SHARE = 0.10
LIST_SHARE = 0.25
PAGES = 4
# The storefront's own documents, by the ids of its manifest: the product page's public part and checkout.
STOREFRONT = {op["name"]: op for op in json.loads((env.ROOT / "storefront" / "persisted-query-manifest.json")
                                                   .read_text())["operations"]
              if op["name"] in ("ProductPublic", "PlaceOrder")}
DROP_SHOPPERS = 300
SCARCE_MAX_AGE_S = 5  # the drop's second configuration: the edge keeps a scarce piece's page until a purge


def varnishd() -> str | None:
    found = shutil.which("varnishd") or ("/usr/sbin/varnishd" if os.path.exists("/usr/sbin/varnishd") else None)
    return found if found and glob.glob("/usr/lib/*/varnish/vmods/libvmod_xkey.so") else None


def url_for(name: str, variables: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return "/graphql?" + urlencode({"documentId": IDS[name], "variables": json.dumps(variables,
                                                                                        separators=(",", ":"))})


def zipf(n: int) -> list[float]:
    weights = [1 / (rank ** ZIPF_S) for rank in range(1, n + 1)]
    total = sum(weights)
    return [w / total for w in weights]


def mix(handles: list[str], cursors: list[str | None], rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(kind, path) for n requests: the same for both runs."""
    product_weights = zipf(len(handles))
    page_weights = zipf(len(cursors))
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < SHOPPER_SHARE:
            handle = rng.choices(handles, product_weights)[0]
            zip_code = f"{10001 + rng.randrange(280):05d}"
            out.append(("shopper", url_for("Shopper", {"handle": handle, "shipTo": {
                "countryCode": "US", "provinceCode": "NY", "zip": zip_code}})))
        elif roll < SHOPPER_SHARE + LIST_SHARE:
            after = rng.choices(cursors, page_weights)[0]
            out.append(("list", url_for("List", {"first": 12, "after": after})))
        else:
            out.append(("product", url_for("Product", {"handle": rng.choices(handles, product_weights)[0]})))
    return out


async def load(base: str, paths: list[tuple[str, str]], seconds: float, connections: int) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    cache: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    served: Counter[str] = Counter()  # answered 200, by kind
    by_kind: Counter[str] = Counter()
    failures: dict[int, str] = {}  # the first answer of each failing status, to say what it was
    stop = time.monotonic() + seconds
    position = 0

    async def one(http: aiohttp.ClientSession) -> None:
        nonlocal position
        while time.monotonic() < stop:
            kind, path = paths[position % len(paths)]
            position += 1
            async with http.get(base + path) as response:
                body = await response.read()
                statuses[response.status] += 1
                served[kind] += response.status == 200
                by_kind[f"{kind} {response.headers.get('x-cache', 'NONE')}"] += 1
                if response.status != 200 and response.status not in failures:
                    failures[response.status] = body[:300].decode(errors="replace")
                counts[kind] += 1
                cache[response.headers.get("x-cache", "NONE")] += 1

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.monotonic()
        await asyncio.gather(*(one(http) for _ in range(connections)))
        elapsed = time.monotonic() - started
    return {"seconds": elapsed, "requests": sum(counts.values()), "pages": sum(served.values()), "kinds": dict(counts),
            "cache": dict(cache), "cache_by_kind": dict(sorted(by_kind.items())),
            "statuses": {str(k): v for k, v in statuses.items()},
            "failures": {str(k): v for k, v in failures.items()}}


def shopify_update(product_id: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": product_id, "updated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}).encode()
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return body, {"content-type": "application/json", "x-shopify-topic": "products/update",
                  "x-shopify-hmac-sha256": digest, "x-shopify-webhook-id": str(uuid.uuid4()),
                  "x-shopify-triggered-at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                  "x-shopify-shop-domain": "bezel-sandbox.myshopify.com"}


def until(client: httpx.Client, path: str, changed: Any, timeout_s: float = 10.0) -> float:
    """Poll the edge every 5 ms until `changed(answer)`; the time it took (s)."""
    started = time.monotonic()
    while True:
        answer = client.get(path).json()
        if changed(answer):
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"the edge did not change within {timeout_s} s")
        time.sleep(0.005)


def changes(gateway: str, varnish: str, box: env.Sandbox, handles: list[str], n: int) -> dict[str, Any]:
    """Price changes and sales on popular products, each timed to the edge serving the new answer."""
    price_s, sale_s = [], []
    with httpx.Client(base_url=varnish, timeout=10) as edge, httpx.Client(base_url=gateway, timeout=10) as direct:
        for i in range(n):
            handle = handles[i % 5]
            path = url_for("Product", {"handle": handle})
            for _ in range(3):  # cached at the edge first
                product = edge.get(path).json()["data"]["product"]
            variant = product["variants"][0]
            if i % 2 == 0:
                new = f"{1000 + i}.{random.randrange(10, 99)}"
                box.set_price(variant["sku"], new)
                body, headers = shopify_update(int(product["id"].rsplit("/", 1)[-1]))
                started = time.monotonic()
                assert direct.post("/webhooks/shopify", content=body, headers=headers).status_code in (200, 202)
                until(edge, path, lambda a, new=new: a["data"]["product"]["variants"][0]["price"]["amount"]
                      == f"{float(new):.2f}")
                price_s.append(time.monotonic() - started)
            else:
                before = variant["availability"]["quantityAvailable"]
                order = {"idempotencyKey": str(uuid.uuid4()), "lines": [{"variantId": variant["id"]}],
                         "shipTo": {"countryCode": "US", "provinceCode": "NY", "zip": "10001"},
                         "email": "ada@example.com", "paymentToken": "tok_visa"}
                placed = direct.post("/graphql", json={"query": PLACE, "variables": {"i": order}}).json()
                started = time.monotonic()  # the buyer has the answer: the sale is done (its event published)
                assert placed["data"]["placeOrder"]["order"], placed
                until(edge, path, lambda a, before=before: a["data"]["product"]["variants"][0]["availability"][
                    "quantityAvailable"] != before)
                sale_s.append(time.monotonic() - started)
    return {"price_change_ms": {k: round(v * 1000, 1) if isinstance(v, float) else v
                                for k, v in percentiles(price_s).items()},
            "sale_ms": {k: round(v * 1000, 1) if isinstance(v, float) else v for k, v in percentiles(sale_s).items()}}


def ghost_offers(admin_url: str) -> float:
    """The gateway's count (`bezel_ghost_offers_total`): it hears only of the pages it answered itself."""
    text = httpx.get(f"{admin_url}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("bezel_ghost_offers_total"))


def manifest() -> str:
    """The bench's documents and the storefront's ProductPublic and PlaceOrder, for the gateway to trust."""
    env.WORK.mkdir(parents=True, exist_ok=True)
    path = env.WORK / "edge-manifest.json"
    path.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        *({"id": IDS[name], "name": name, "type": "query", "body": body} for name, body in OPERATIONS.items()),
        *STOREFRONT.values()]}))
    return str(path)


@contextlib.contextmanager
def stack(box: env.Sandbox, redis_url: str, binary: str, **settings: str) -> Iterator[tuple[env.Process,
                                                                                          env.Process]]:
    """One gateway (core 0) with `settings`, and Varnish with the shipped VCL in front of it (load core)."""
    varnish_port = free_port()
    extra = {"REDIS_URL": redis_url, "BEZEL_DOCUMENTS__MANIFEST": manifest(),
             "BEZEL_EDGE__PROVIDER": "varnish", "BEZEL_EDGE__PURGE_URL": f"http://127.0.0.1:{varnish_port}",
             "SHOPIFY_WEBHOOK_SECRET": SECRET, "BEZEL_LIMITS__PAGES": "1000000/second",
             "BEZEL_LIMITS__CHECKOUT": "100000/second", "BEZEL_GATEWAY__TRUSTED_PROXIES": "[]",
             # Every shopper comes from 127.0.0.1 here: the drop's checkouts are one client's hundreds.
             "BEZEL_CHECKOUT__MAX_IN_FLIGHT_PER_CLIENT": "1000",
             # 16 connections never overload one process; on a machine shared with other work the adaptive
             # limit sheds on the loop lag that work causes, and a shed request is no page (counted apart).
             "BEZEL_GATEWAY__ADAPTIVE_IN_FLIGHT": "false", **settings}
    with env.gateway(box, **extra) as gateway:
        port = gateway.url.rsplit(":", 1)[1]
        vcl = env.WORK / "edge.vcl"
        vcl.write_text((env.ROOT / "deploy" / "varnish" / "default.vcl").read_text()
                       .replace('.port = "8000";', f'.port = "{port}";'))
        workdir = env.WORK / f"varnish-{uuid.uuid4().hex[:6]}"
        args = env.pinned(env.LOAD_CORE, [binary, "-F", "-j", "none", "-a", f"127.0.0.1:{varnish_port}", "-f",
                                          str(vcl), "-n", str(workdir), "-s", "malloc,256m", "-T", "none"])
        with (env.WORK / "varnish.log").open("wb") as log:
            varnish = env.Process(f"http://127.0.0.1:{varnish_port}",
                                  subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{varnish.url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "varnish did not start"
                time.sleep(0.2)
            yield gateway, varnish
        finally:
            varnish.process.terminate()
            varnish.process.wait(timeout=15)


def public_path(handle: str) -> str:
    """ProductPublic's URL as the storefront's api.js builds it for a GET."""
    from urllib.parse import urlencode

    return "/graphql?" + urlencode({"documentId": STOREFRONT["ProductPublic"]["id"], "operationName": "ProductPublic",
                                    "variables": json.dumps({"handle": handle}, separators=(",", ":"))})


def one_of_a_kind(box: env.Sandbox) -> None:
    """The drop's pieces at one unit each, before any page of them is cached (some of the seed's limited
    pieces have 3, at safety stock: not scarce, so cacheable; the sandbox's webhooks go nowhere here)."""
    for handle in PIECES:
        box.stock_all(handle, 1)


async def edge_drop(gateway: env.Process, varnish: env.Process, shoppers: int) -> dict[str, Any]:
    """The drop with Varnish in front: pages through it, checkouts straight to the gateway."""
    ids: dict[str, str] = {}
    # As JSON in one piece (api.js's `incremental: false`): a streamed (@defer) answer is never public.
    accept = {"accept": "application/json"}
    place_order = {"documentId": STOREFRONT["PlaceOrder"]["id"], "operationName": "PlaceOrder"}
    async with aiohttp.ClientSession() as session:
        for handle in PIECES:
            for _ in range(20):  # the catalog's first answers, while the sandbox warms up
                async with session.get(gateway.url + public_path(handle), headers=accept) as response:
                    answer = await response.json()
                if answer.get("data"):
                    break
                await asyncio.sleep(0.5)
            assert answer.get("data"), answer
            variant = answer["data"]["product"]["variants"][0]
            ids[handle] = variant["id"]
        for handle in PIECES:  # the pieces' pages open before the drop, as the edge would have them
            async with session.get(varnish.url + public_path(handle), headers=accept) as response:
                assert response.status == 200, await response.text()

        async def look(n: int, handle: str) -> Look:
            async with session.get(varnish.url + public_path(handle), headers=accept) as response:
                try:
                    answer = await response.json(content_type=None)
                except ValueError:  # not JSON (Varnish's own error page): no offer
                    answer = {}
                age = response.headers.get("age")
                via = response.headers.get("x-cache", "NONE")
            product = ((answer or {}).get("data") or {}).get("product") or {}
            variants = product.get("variants") or [{}]
            status = (variants[0].get("availability") or {}).get("status") or f"{response.status} no stock"
            return Look(status, via, int(age) if age and age.isdigit() else None)

        async def buy(n: int, handle: str) -> str:
            return await place(session, gateway.url, ids[handle], n, place_order)

        before = ghost_offers(gateway.admin_url)
        found = await drop(look, buy, PIECES, shoppers=shoppers)
    found["gateway_ghost_offers"] = ghost_offers(gateway.admin_url) - before  # counted before checkout answers
    return found


def catalog_runs(gateway: env.Process, varnish: env.Process, box: env.Sandbox, handles: list[str], timed: list[str],
                 seconds: float, connections: int, n_changes: int) -> dict[str, Any]:
    """The catalog mix through the edge, with no edge, through it again; then the timed changes."""
    with httpx.Client(base_url=gateway.url, timeout=10) as direct:
        cursors: list[str | None] = [None]
        for _ in range(PAGES - 1):
            for _ in range(20):  # the catalog's first answers, while the sandbox warms up
                page = direct.get(url_for("List", {"first": 12, "after": cursors[-1]})).json()
                if page.get("data"):
                    break
                time.sleep(0.5)
            assert page.get("data"), page
            cursors.append(page["data"]["products"]["pageInfo"]["endCursor"])
    paths = mix(handles, cursors, random.Random(7), 50_000)
    results = {}
    for name, base in (("edge", varnish.url), ("no_edge", gateway.url), ("edge_again", varnish.url)):
        asyncio.run(load(base, paths[:2000], 3, connections))  # warm: caches, connections
        cpu0, vcpu0 = gateway.cpu_seconds(), varnish.cpu_seconds()
        measured = asyncio.run(load(base, paths, seconds, connections))
        cpu, vcpu = gateway.cpu_seconds() - cpu0, varnish.cpu_seconds() - vcpu0
        pages = measured["pages"]  # answered 200 (a shed request is no page)
        hits = measured["cache"].get("HIT", 0)
        reached = measured["requests"] - hits
        results[name] = {
            **measured, "pages_per_s": round(pages / measured["seconds"], 1),
            "hit_ratio": round(hits / measured["requests"], 3) if name != "no_edge" else None,
            "shed": measured["statuses"].get("503", 0),
            "gateway_requests_per_s": round(reached / measured["seconds"], 1),
            "gateway_cpu_percent": round(cpu / measured["seconds"] * 100, 1),
            "gateway_cpu_ms_per_page": round(cpu * 1000 / pages, 3),
            "gateway_cpu_ms_per_request": round(cpu * 1000 / max(1, reached), 3),
            "varnish_cpu_ms_per_page": round(vcpu * 1000 / pages, 3) if name != "no_edge" else None,
        }
        print(name, json.dumps({k: v for k, v in results[name].items() if k != "kinds"}))
    timed_changes = changes(gateway.url, varnish.url, box, timed, n_changes)
    print(json.dumps(timed_changes))
    return {"runs": results, "changes": timed_changes, "ghost_offers": ghost_offers(gateway.admin_url)}


def run(seconds: float, connections: int, n_changes: int, *, drop_only: bool = False,
        n_drops: int = 3) -> dict[str, Any]:
    binary = varnishd()
    if binary is None:
        raise SystemExit("bench.edge: varnishd or vmod xkey missing (make varnish)")
    redis_url = env.redis_url()
    if redis_url is None:
        raise SystemExit("bench.edge: no Redis (REDIS_URL)")
    catalog = build_catalog()
    handles = [p.handle for p in catalog]
    random.Random(3).shuffle(handles)  # popularity is not catalog order
    timed = [handle for handle in handles if handle not in PIECES][:5]  # the drop's pieces stay one of a kind
    found: dict[str, Any] = {}
    drops: dict[str, dict[str, Any]] = {}
    with env.sandbox() as box:
        for max_age, settings in (("0", {}), (str(SCARCE_MAX_AGE_S),
                                              {"BEZEL_EDGE__SCARCE_MAX_AGE_S": str(SCARCE_MAX_AGE_S)})):
            runs = []
            for _ in range(n_drops):
                # Each drop from the start: the sandbox's stock, an empty Redis, a new gateway and Varnish.
                box.reset()
                for handle in timed:
                    box.stock_all(handle, 500)  # the products whose changes are timed: plenty, never scarce
                one_of_a_kind(box)
                env.redis_url()
                with stack(box, redis_url, binary, **settings) as (gateway, varnish):
                    if not drop_only and not found:
                        found = catalog_runs(gateway, varnish, box, handles, timed, seconds, connections, n_changes)
                    runs.append(asyncio.run(edge_drop(gateway, varnish, DROP_SHOPPERS)))
                    print(f"drop, scarce_max_age_s = {max_age}:", json.dumps(runs[-1]))
            drops[max_age] = combined(runs)
    return {**found, "drop": {"by_scarce_max_age_s": drops}}


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several drops of one configuration: their sums, and each one's ghost offers."""
    def total(key: str) -> dict[str, int]:
        summed: Counter[str] = Counter()
        for one in runs:
            summed.update(one.get(key, {}))
        return dict(sorted(summed.items()))

    return {"drops": len(runs), "shoppers": runs[0]["shoppers"], "pieces": runs[0]["pieces"],
            **{key: sum(one[key] for one in runs) for key in ("orders", "oversold", "ghost_offers_after_sale",
                                                                "gateway_ghost_offers")},
            "ghost_offers_by_drop": [one["ghost_offers_after_sale"] for one in runs],
            "outcomes": total("outcomes"), "pages_via": total("pages_via"), "ghosts_via": total("ghosts_via"),
            "ghosts": [ghost for one in runs for ghost in one["ghosts"]][:20], "runs": runs}


def render(doc: dict[str, Any]) -> str:
    """The tables of edge.md (under `write`'s header)."""
    rows = ["| run | pages/s (200) | shed (503) | edge hit ratio | gateway req/s | gateway CPU | gateway CPU per page "
            "(ms) | per gateway request (ms) | Varnish CPU per page (ms) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in doc["runs"].items():
        rows.append(f"| {name} | {r['pages_per_s']} | {r['shed']} | "
                    f"{r['hit_ratio'] if r['hit_ratio'] is not None else '-'} | "
                    f"{r['gateway_requests_per_s']} | {r['gateway_cpu_percent']}% | {r['gateway_cpu_ms_per_page']} | "
                    f"{r['gateway_cpu_ms_per_request']} | {r['varnish_cpu_ms_per_page'] or '-'} |")
    price, sale = doc["changes"]["price_change_ms"], doc["changes"]["sale_ms"]
    rows += ["", "| change -> the edge serves the new answer | n | p50 (ms) | p99 (ms) | max (ms) |",
             "|---|---|---|---|---|",
             f"| price change (products/update webhook) | {price['n']} | {price['median']} | {price['p99']} | "
             f"{price['max']} |",
             f"| sale through Bezel (placeOrder) | {sale['n']} | {sale['median']} | {sale['p99']} | {sale['max']} |",
             "", f"bezel_ghost_offers_total after the runs: {doc['ghost_offers']:g} (the gateway's count: no "
             "checkout in this mix tried a sold-out piece, and a page the edge served is never counted; the drop "
             "below counts ghost offers from the shoppers' side)", "",
             "Where the requests went (kind, Varnish's x-cache), through the edge:", "",
             "| kind | x-cache | requests |", "|---|---|---|"]
    for key, count in doc["runs"]["edge"]["cache_by_kind"].items():
        rows.append(f"| {key.split()[0]} | {key.split()[1]} | {count} |")
    if "drop" in doc:
        rows += ["", *render_drop(doc["drop"])]
    return "\n".join(rows)


def render_drop(found: dict[str, Any]) -> list[str]:
    m = found["machine"]
    drops = found["by_scarce_max_age_s"]
    first = next(iter(drops.values()))
    rows = ["## A drop through the edge", "", f"Command: `{found['command']}` (git {m['git']}; {m['when']})", "",
            f"{first['drops']} drops per configuration, each on a new gateway, Varnish and empty Redis: "
            f"{first['shoppers']} shoppers arriving over 3 s on {first['pieces']} one-of-a-kind pieces "
            "(bench.freshness's drop): each loads the piece's public part (the storefront's ProductPublic, by GET "
            "through Varnish, as JSON) and buys it if shown available (PlaceOrder, by POST to the gateway). A ghost "
            "offer: a page asked for after the piece's sale was confirmed (its placeOrder answer had arrived) "
            "that still offered it, counted by the shoppers; target 0. The gateway's bezel_ghost_offers_total "
            "counts OUT_OF_STOCK refusals of pieces a page it answered itself had offered within its window (races "
            "before the sale included); a page Varnish served is not seen. Figures are totals over the drops.", "",
            "| `[edge] scarce_max_age_s` | orders | oversold | pages by x-cache | ghost offers (shoppers' side), "
            "by drop | of them by x-cache | bezel_ghost_offers_total (gateway) | outcomes |",
            "|---|---|---|---|---|---|---|---|"]
    for max_age, d in drops.items():
        label = f"{max_age} (as shipped)" if max_age == "0" else max_age
        via = ", ".join(f"{k} {v}" for k, v in d.get("pages_via", {}).items())
        ghosts_via = ", ".join(f"{k} {v}" for k, v in d.get("ghosts_via", {}).items()) or "-"
        outcomes = ", ".join(f"{k} {v}" for k, v in d["outcomes"].items())
        by_drop = " + ".join(str(n) for n in d["ghost_offers_by_drop"])
        rows.append(f"| {label} | {d['orders']} | {d['oversold']} | {via} | {d['ghost_offers_after_sale']} "
                    f"({by_drop}) | "
                    f"{ghosts_via} | {d['gateway_ghost_offers']:g} | {outcomes} |")
    for max_age, d in drops.items():
        if d["ghosts"]:
            rows += ["", f"Ghost offers with scarce_max_age_s = {max_age} (piece, page asked ms after the sale, "
                     "x-cache, Age s): " + "; ".join(f"{g['piece']} +{g['page_asked_after_sale_ms']} ms "
                                                     f"{g.get('via', '-')} {g.get('age_s', '-')}"
                                                     for g in d["ghosts"])]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--drops", type=int, default=3, help="drops per configuration")
    parser.add_argument("--drop-only", action="store_true",
                        help="only the drops, added to the committed bench/results/edge.json")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(env.LOAD_CORE)})
    found = run(args.seconds, args.connections, args.changes, drop_only=args.drop_only, n_drops=args.drops)
    command = (f"python -m bench.edge --seconds {args.seconds:g} --connections {args.connections} "
               f"--changes {args.changes}")
    drop = {"command": f"python -m bench.edge --drop-only --drops {args.drops}" if args.drop_only
            else f"{command} --drops {args.drops}", "machine": machine(),
            **found.pop("drop")}
    if args.drop_only:
        doc = {**json.loads((RESULTS / "edge.json").read_text()), "drop": drop}
    else:
        doc = {"title": "The catalog behind an edge: Varnish in front of one gateway process, and no edge",
               "machine": machine(), "command": command,
               "mix": {"zipf_s": ZIPF_S, "shopper_share": SHOPPER_SHARE, "list_share": LIST_SHARE,
                       "list_pages": PAGES},
               **found, "drop": drop}
    write("edge", doc, render(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
