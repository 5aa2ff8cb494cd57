"""Bezel beside its closest peer, Hive Gateway serving a GraphQL Mesh supergraph, on the same page.

Why: "one query, every vendor asked server-side" is also what a Mesh supergraph behind Hive Gateway
offers, so that is the comparison a buyer makes. Both gateways serve one product page (the product by
handle with its variants and prices, a tax estimate for the shopper's address, BNPL financing) over the
same sandbox vendors at fixed latencies, each pinned to core 0 while the sandbox and wrk share core 1:

- throughput at 16 connections: Hive, Bezel as shipped (caches on), and Bezel with nothing cached;
- CPU per page with nothing cached, at 1 and 16 connections (Hive has no cache; Bezel's caches are
  turned off with TTLs of 0 and no hedging, so at 1 connection both make the same vendor calls; at 16
  Bezel still merges concurrent identical calls; the sandbox counts them);
- peak memory (RSS) during each run;
- what a shopper gets when the tax vendor hangs: status, partial data, the error's text, time, and the
  sockets to the sandbox left open afterwards.

    make bench-peer                              # installs the pinned peer (bench/peer/) and runs this
    .venv/bin/python -m bench.peer --quick       # a few seconds per run: checks the harness (peer-quick.*)

Results: bench/results/peer.md and peer.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import env, wrk
from bench.common import machine, shopper_address, write
from bench.pages import NY_ZIPS, STANDARD
from sandbox import handle

PEER_SRC = env.ROOT / "bench" / "peer"  # the committed Node side: package.json, lock, configs, OpenAPI documents
PEER_WORK = env.WORK / "peer"  # `npm ci` installs here (gitignored); configs are copied next to node_modules
PEER_FILES = ("mesh.config.ts", "gateway.config.ts", "openapi")
PEER_PACKAGES = ("@graphql-hive/gateway", "@graphql-mesh/compose-cli", "@omnigraph/openapi",
                 "@graphql-mesh/transport-rest", "graphql")
VENDORS = ("catalog", "tax", "bnpl")

# Bezel with nothing cached: every answer of the page's three vendors expires at once and is never kept
# (keep = cache_ttl + max(stale_ttl, revalidate) = 0, so nothing is stored), and no hedged second
# attempts, so it sends the same calls as the peer. Concurrent identical calls still share one flight.
UNCACHED = {f"BEZEL_VENDORS__{v.upper()}__{key}": value for v in VENDORS
            for key, value in (("CACHE_TTL_S", "0"), ("STALE_TTL_S", "0"), ("REVALIDATE_S", "0"), ("HEDGE", "false"))}

# Bezel's page: the README's product page (storefront/operations/ProductPage.graphql) cut down to the
# fields the catalog, tax and BNPL vendors answer.
BEZEL_QUERY = """query PeerPage($handle: String!, $shipTo: AddressInput!) {
  product(handle: $handle) {
    id handle title description
    options { name values }
    priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } }
    variants { id sku title price { amount currencyCode } selectedOptions { name value } }
    taxEstimate(shipTo: $shipTo) { amountToCollect { amount currencyCode } rate }
    financing { offers { provider term interval apr installmentAmount { amount currencyCode } message } }
  }
}"""

# The same page from the Mesh supergraph: the vendors' own shapes, one root field per call. The client
# must send the price (and SKU) that tax and financing are for: the peer cannot read it from the
# catalog answer in the same request, Bezel does (the lowest-priced variant's, like taxEstimate's default).
HIVE_QUERY = """query PeerPage($handle: String!, $zip: String!, $state: String!, $sku: String!, $amount: Float!,
                 $cents: Int!) {
  products(handle: $handle, limit: 250) {
    products {
      id handle title body_html
      options { name values }
      variants { id sku title price option1 option2 option3 }
    }
  }
  taxes(input: {from_country: "US", from_zip: "10001", from_state: "NY", from_city: "New York",
                from_street: "580 Fifth Avenue", to_country: "US", to_zip: $zip, to_state: $state,
                amount: $amount, shipping: 0, line_items: [{id: $sku, quantity: 1, unit_price: $amount}]}) {
    tax { amount_to_collect rate }
  }
  affirmPromos(public_api_key: "sandbox_public", amount: $cents, show_apr: true, page_type: "product") {
    promo { ala_message term_length }
    terms { term_length apr installment_cents total_cents currency }
  }
  afterpayConfiguration { minimumAmount { amount currency } maximumAmount { amount currency } }
}"""


@dataclass(frozen=True)
class Durations:
    warm_s: int
    c16_s: int
    c1_s: int
    counted_pages: int  # pages sent for the exact call count, per 16 connections (a tenth of it at 1)
    hung_pages: int
    idle_s: int


FULL = Durations(warm_s=5, c16_s=20, c1_s=15, counted_pages=320, hung_pages=3, idle_s=4)
QUICK = Durations(warm_s=1, c16_s=3, c1_s=3, counted_pages=64, hung_pages=1, idle_s=1)


@dataclass(frozen=True)
class Cheapest:
    """The lowest-priced variant, as the peer's client must know it (Bezel finds it in the catalog answer)."""

    sku: str
    price: Decimal
    variants: int


def cheapest(box: env.Sandbox, product: str) -> Cheapest:
    with httpx.Client(base_url=box.url, timeout=10) as client:
        data = client.get("/catalog/admin/api/2024-10/products.json", params={"handle": product}).json()
    variants = data["products"][0]["variants"]
    low = min(variants, key=lambda v: Decimal(v["price"]))
    return Cheapest(sku=low["sku"], price=Decimal(low["price"]), variants=len(variants))


def bezel_body(product: str, zip_code: str) -> bytes:
    ship_to = {"countryCode": "US", "provinceCode": "NY", "zip": zip_code}
    return orjson.dumps({"query": BEZEL_QUERY, "operationName": "PeerPage",
                         "variables": {"handle": product, "shipTo": ship_to}})


def hive_body(product: str, zip_code: str, low: Cheapest) -> bytes:
    variables = {"handle": product, "zip": zip_code, "state": "NY", "sku": low.sku, "amount": float(low.price),
                 "cents": int(low.price * 100)}
    return orjson.dumps({"query": HIVE_QUERY, "operationName": "PeerPage", "variables": variables})


# ---------------------------------------------------------------------------------------------- the peer


def peer_versions() -> dict[str, str]:
    versions = {"node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()}
    for name in PEER_PACKAGES:
        manifest = PEER_WORK / "node_modules" / name / "package.json"
        versions[name] = json.loads(manifest.read_text())["version"] if manifest.exists() else "missing"
    return versions


def compose(box: env.Sandbox) -> Path:
    """The supergraph for this sandbox: Mesh compose over the OpenAPI documents, endpoints at `box.url`.

    Composed per run because the sandbox listens on a free port; the config files are copied next to the
    installed node_modules so their imports resolve."""
    binary = PEER_WORK / "node_modules" / ".bin" / "mesh-compose"
    if not binary.exists():
        raise SystemExit(f"{binary} is missing: install the peer first (make bench-peer, or "
                         f"cp bench/peer/package*.json {PEER_WORK}/ && npm ci --prefix {PEER_WORK})")
    for name in PEER_FILES:
        source, target = PEER_SRC / name, PEER_WORK / name
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    out = PEER_WORK / "supergraph.graphql"
    done = subprocess.run([str(binary), "-o", out.name], cwd=PEER_WORK, env={**os.environ, "SANDBOX_URL": box.url},
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"mesh-compose failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return out


@contextlib.contextmanager
def hive() -> Iterator[env.Process]:
    """`hive-gateway supergraph`, one process (--fork 1), production mode, pinned to the gateway's core."""
    port = handle.free_port()
    binary = PEER_WORK / "node_modules" / ".bin" / "hive-gateway"
    args = env.pinned(env.GATEWAY_CORE, [str(binary), "supergraph", "--fork", "1", "-c", "gateway.config.ts",
                                         "-h", "127.0.0.1", "-p", str(port)])
    url = f"http://127.0.0.1:{port}"
    process_env = {**os.environ, "NODE_ENV": "production"}
    with (env.WORK / f"hive-gateway-{port}.log").open("wb") as log, \
            handle.spawned(args, health=f"{url}/healthcheck", env=process_env, output=log, cwd=PEER_WORK) as p:
        yield env.Process(url=url, process=p)


# ---------------------------------------------------------------------------------------------- measuring


def _pids(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [pid, *(p for child in children for p in _pids(int(child)))]


def rss_mb(pid: int) -> float:
    """Resident memory of the process and its children, in MB."""
    total = 0
    for p in _pids(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


class PeakRss:
    """The largest RSS seen while the block runs, sampled every 200 ms (a run's peak, not startup's)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def machine_busy_s() -> float:
    """CPU time every core spent busy since boot (/proc/stat: user, nice, system, irq, softirq; not steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """This driver's CPU time and its waited-for children's (wrk, mesh-compose, ss)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def wait_quiet(procs: list[env.Process], *, limit_cores: float = 0.15, max_wait_s: float = 60.0) -> float:
    """Wait (at most `max_wait_s`) until nothing but us has used more than `limit_cores` for a second: the
    machine is shared, and another job's burst on the gateway's core would be measured as the gateway's.
    Returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < max_wait_s:
        busy, ours, mine = machine_busy_s(), sum(p.cpu_seconds() for p in procs), own_cpu_s()
        time.sleep(1.0)
        other = machine_busy_s() - busy - (sum(p.cpu_seconds() for p in procs) - ours) - (own_cpu_s() - mine)
        if other < limit_cores:
            break
    return round(time.monotonic() - start, 1)


def zero_calls(box: env.Sandbox) -> None:
    with box.admin() as admin:
        admin.delete("/calls").raise_for_status()


def count_calls(gw: env.Process, box: env.Sandbox, bodies: list[bytes], *, connections: int) -> dict[str, Any]:
    """Vendor calls per page, exactly: these pages over `connections` connections, counted by the sandbox
    once every page has answered (wrk's count leaves out the pages still in flight when it stops)."""
    zero_calls(box)

    def send(i: int) -> int:
        # Each page from its own shopper, as wrk sends them: Bezel's per-client rate limit counts per shopper.
        headers = {"content-type": "application/json", "x-forwarded-for": shopper_address(i)}
        return client.post("/graphql", content=bodies[i], headers=headers).status_code

    with httpx.Client(base_url=gw.url, timeout=30, limits=httpx.Limits(max_connections=connections)) as client, \
            ThreadPoolExecutor(connections) as pool:
        statuses = list(pool.map(send, range(len(bodies))))
    time.sleep(0.3)  # a hedge or refresh still on its way to the sandbox
    answered = sum(1 for s in statuses if s == 200)
    if not answered:
        raise RuntimeError(f"none of {len(bodies)} counted pages was answered: HTTP {sorted(set(statuses))}")
    # A page refused at the door (429, 503 OVERLOADED) asks no vendor: calls are per answered page.
    calls = {k: v for k, v in box.calls().items() if v}
    return {"pages": len(bodies), "non_200": len(bodies) - answered, "calls": calls,
            "per_page": {k: round(v / answered, 3) for k, v in calls.items()},
            "total_per_page": round(sum(calls.values()) / answered, 3)}


def load(gw: env.Process, box: env.Sandbox, bodies: list[bytes], *, connections: int, seconds: int, warm_s: int,
         counted: list[bytes], name: str) -> dict[str, Any]:
    """wrk at `connections` after a warm-up: throughput, latency, the gateway's CPU per page (its whole
    process tree, user + system) and its peak RSS; then the vendor calls per page, by the sandbox's count."""
    url = f"{gw.url}/graphql"
    waited = wait_quiet([gw, box])
    wrk.run(url, bodies, seconds=warm_s, connections=connections, name=f"peer-{name}")
    zero_calls(box)
    cpu, box_cpu, mine, busy = gw.cpu_seconds(), box.cpu_seconds(), own_cpu_s(), machine_busy_s()
    with PeakRss(gw.pid) as rss:
        result = wrk.run(url, bodies, seconds=seconds, connections=connections, name=f"peer-{name}")
    cpu, box_cpu, mine = gw.cpu_seconds() - cpu, box.cpu_seconds() - box_cpu, own_cpu_s() - mine
    # Whatever else ran on this shared machine meanwhile, in cores: the runs are only as clean as this.
    other = max(0.0, machine_busy_s() - busy - cpu - box_cpu - mine)
    calls = {k: v for k, v in box.calls().items() if v}
    pages = max(result.requests, 1)
    exact = count_calls(gw, box, counted, connections=connections)
    return {
        "connections": connections,
        "seconds": result.seconds,
        "requests": result.requests,
        "throughput_rps": result.rps,
        "latency_ms": {"p50": result.p50_ms, "p90": result.p90_ms, "p99": result.p99_ms},
        "non_2xx": result.non_2xx,
        "socket_errors": result.socket_errors,
        "cpu_ms_per_page": round(cpu / pages * 1000, 3),
        "gateway_cpu_share": round(cpu / result.seconds, 3),  # of its one core
        "sandbox_cpu_share": round(box_cpu / result.seconds, 3),  # of the core it shares with wrk
        "wrk_and_driver_cpu_share": round(mine / result.seconds, 3),
        "other_load_cores": round(other / result.seconds, 3),
        "waited_for_quiet_s": waited,
        "rss_peak_mb": round(rss.peak, 1),
        "wrk_calls": calls,  # during the wrk run, over the pages wrk counted (in-flight ones left out)
        "wrk_calls_per_page_total": round(sum(calls.values()) / pages, 3),
        "counted": exact,
        "calls_per_page": exact["per_page"],
        "calls_per_page_total": exact["total_per_page"],
    }


def idle_cpu(gw: env.Process, seconds: float) -> float:
    """The gateway's CPU with no traffic, in ms per second (timers, metrics, GC): at 1 connection a page
    carries some 140 ms of it, so this separates what a page costs from what merely running costs."""
    time.sleep(1.0)
    start = gw.cpu_seconds()
    time.sleep(seconds)
    return round((gw.cpu_seconds() - start) / seconds * 1000, 2)


def post(url: str, body: bytes, timeout: float = 30.0) -> tuple[int, Any, float, int]:
    """One page: status, decoded body, seconds to the last byte, body size."""
    start = time.perf_counter()
    response = httpx.post(f"{url}/graphql", content=body, timeout=timeout,
                          headers={"content-type": "application/json"})
    elapsed = time.perf_counter() - start
    try:
        decoded = response.json()
    except ValueError:
        decoded = response.text
    return response.status_code, decoded, elapsed, len(response.content)


# What came back of the page, per vendor, from each side's answer.
Parts = Callable[[Any], dict[str, bool]]


def bezel_parts(body: Any) -> dict[str, bool]:
    product = ((body or {}).get("data") or {}).get("product") or {}
    return {"catalog": bool(product.get("variants")), "tax": bool(product.get("taxEstimate")),
            "bnpl": bool((product.get("financing") or {}).get("offers"))}


def hive_parts(body: Any) -> dict[str, bool]:
    data = (body or {}).get("data") or {}
    return {"catalog": bool((data.get("products") or {}).get("products")), "tax": bool(data.get("taxes")),
            "bnpl": bool((data.get("affirmPromos") or {}).get("terms") and data.get("afterpayConfiguration"))}


def check_page(name: str, url: str, body: bytes, parts: Parts) -> dict[str, Any]:
    """One healthy page must be whole and error-free before its numbers mean anything."""
    status, decoded, elapsed, size = post(url, body)
    got = parts(decoded)
    if status != 200 or not isinstance(decoded, dict) or decoded.get("errors") or not all(got.values()):
        raise RuntimeError(f"{name} did not answer the page: HTTP {status}: {str(decoded)[:800]}")
    return {"status": status, "ms": round(elapsed * 1000, 1), "bytes": size, "body": decoded}


def sockets(pids: list[int], port: int) -> dict[str, int]:
    """ESTABLISHED TCP connections from these processes to the sandbox's port, and how many of them are
    waiting for an answer (the last thing on the socket was our request: `ss` lastsnd < lastrcv)."""
    if shutil.which("ss") is None:
        return {"established": -1, "awaiting_answer": -1}
    out = subprocess.run(["ss", "-tnpiH", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    established = awaiting = 0
    wanted = {str(p) for p in pids}
    for block in re.split(r"\n(?=\S)", out.strip()):
        owners = set(re.findall(r"pid=(\d+)", block))
        if not owners & wanted:
            continue
        established += 1
        sent, received = re.search(r"lastsnd:(\d+)", block), re.search(r"lastrcv:(\d+)", block)
        if sent and (received is None or int(sent[1]) < int(received[1])):
            awaiting += 1
    return {"established": established, "awaiting_answer": awaiting}


def hung_tax(gw: env.Process, box: env.Sandbox, bodies: list[bytes], warm: list[bytes], parts: Parts
             ) -> dict[str, Any]:
    """The tax vendor never answers: what the shopper gets, how fast, and what the gateway leaves open.

    Each page uses a ZIP no earlier request used, so nothing cached can stand in for the tax answer.
    Sockets are counted before and 2 s after: a gateway that abandons a hung call without closing it
    keeps one more socket per hung page, waiting for an answer that will not come."""
    port = int(box.url.rsplit(":", 1)[1])
    for body in warm:
        post(gw.url, body)
    before = sockets(_pids(gw.pid), port)
    zero_calls(box)
    box.fault("tax", hang=True)
    pages = []
    try:
        for body in bodies:
            status, decoded, elapsed, _ = post(gw.url, body)
            errors = decoded.get("errors", []) if isinstance(decoded, dict) else [{"message": str(decoded)}]
            text = json.dumps(errors)
            host = box.url.split("//", 1)[1]
            pages.append({
                "status": status,
                "ms": round(elapsed * 1000, 1),
                "parts": parts(decoded),
                "errors": errors,
                "leaks_vendor_url": host in text,
                "leaks_request_body": any(k in text for k in ("to_zip", "from_street", "line_items")),
            })
        time.sleep(2.0)
        after = sockets(_pids(gw.pid), port)
    finally:
        box.clear_faults()
    calls = box.calls()
    return {"pages": pages, "sockets_before": before, "sockets_after": after,
            "tax_calls_per_page": round(calls.get("tax", 0) / max(len(bodies), 1), 2)}


# ---------------------------------------------------------------------------------------------- the run


def run(quick: bool) -> dict[str, Any]:
    d = QUICK if quick else FULL
    product = STANDARD
    zips = NY_ZIPS[:4000]
    spare = iter(NY_ZIPS[4000:])  # fresh addresses: for the page checks and the hung-vendor pages
    results: dict[str, Any] = {"product": product, "durations": d.__dict__, "uncached_env": UNCACHED}
    with env.sandbox() as box:
        low = cheapest(box, product)
        results["cheapest_variant"] = {"sku": low.sku, "price": str(low.price), "variants": low.variants}
        hive_bodies = [hive_body(product, z, low) for z in zips]
        bezel_bodies = [bezel_body(product, z) for z in zips]
        # The exact call count asks shoppers wrk may already have sent (as wrk does): the same ones each side.
        picks = random.Random(7).sample(range(len(zips)), d.counted_pages)
        counted = {"hive": [hive_bodies[i] for i in picks], "bezel": [bezel_bodies[i] for i in picks]}
        c1 = d.counted_pages // 10
        compose(box)
        runs: dict[str, Any] = {}
        checks: dict[str, Any] = {}
        hung: dict[str, Any] = {}
        idle: dict[str, float] = {}

        print("hive: nothing cached (it has no cache), 16 and 1 connections", flush=True)
        with hive() as gw:
            checks["hive"] = check_page("hive", gw.url, hive_body(product, next(spare), low), hive_parts)
            runs["hive_c16"] = load(gw, box, hive_bodies, connections=16, seconds=d.c16_s, warm_s=d.warm_s,
                                    counted=counted["hive"], name="hive")
            runs["hive_c1"] = load(gw, box, hive_bodies, connections=1, seconds=d.c1_s, warm_s=2,
                                   counted=counted["hive"][:c1], name="hive")
            idle["hive"] = idle_cpu(gw, d.idle_s)
        box.reset()
        with hive() as gw:
            hung["hive"] = hung_tax(gw, box, [hive_body(product, next(spare), low) for _ in range(d.hung_pages)],
                                    [hive_body(product, next(spare), low) for _ in range(3)], hive_parts)
        box.reset()

        print("bezel: as shipped, 16 connections", flush=True)
        with env.gateway(box) as gw:
            checks["bezel"] = check_page("bezel", gw.url, bezel_body(product, next(spare)), bezel_parts)
            runs["bezel_shipped_c16"] = load(gw, box, bezel_bodies, connections=16, seconds=d.c16_s,
                                             warm_s=d.warm_s, counted=counted["bezel"], name="bezel")
            idle["bezel_shipped"] = idle_cpu(gw, d.idle_s)
        box.reset()
        print("bezel: nothing cached, 16 and 1 connections", flush=True)
        with env.gateway(box, **UNCACHED) as gw:
            check_page("bezel (uncached)", gw.url, bezel_body(product, next(spare)), bezel_parts)
            runs["bezel_uncached_c16"] = load(gw, box, bezel_bodies, connections=16, seconds=d.c16_s,
                                              warm_s=d.warm_s, counted=counted["bezel"], name="bezel")
            runs["bezel_uncached_c1"] = load(gw, box, bezel_bodies, connections=1, seconds=d.c1_s, warm_s=2,
                                             counted=counted["bezel"][:c1], name="bezel")
            idle["bezel_uncached"] = idle_cpu(gw, d.idle_s)
        box.reset()
        with env.gateway(box) as gw:
            hung["bezel"] = hung_tax(gw, box, [bezel_body(product, next(spare)) for _ in range(d.hung_pages)],
                                     [bezel_body(product, next(spare)) for _ in range(3)], bezel_parts)
    results.update(runs=runs, hung_tax=hung, idle_cpu_ms_per_s=idle, same_answers=same_answers(checks), pages={
        side: {"bytes": c["bytes"], "ms": c["ms"]} for side, c in checks.items()})
    return results


def same_answers(checks: dict[str, Any]) -> dict[str, Any]:
    """Whether both sides answered the same page: variant count, tax, and Affirm's monthly payments."""
    bezel = checks["bezel"]["body"]["data"]["product"]
    hive_data = checks["hive"]["body"]["data"]
    peer = hive_data["products"]["products"][0]
    bezel_affirm = sorted(Decimal(o["installmentAmount"]["amount"]) for o in bezel["financing"]["offers"]
                          if o["provider"] == "affirm")
    hive_affirm = sorted(Decimal(t["installment_cents"]) / 100 for t in hive_data["affirmPromos"]["terms"])
    return {
        "variants": [len(bezel["variants"]), len(peer["variants"])],
        "tax_rate": [str(bezel["taxEstimate"]["rate"]), str(hive_data["taxes"]["tax"]["rate"])],
        "affirm_installments": [[str(x) for x in bezel_affirm], [str(x) for x in hive_affirm]],
        "equal": len(bezel["variants"]) == len(peer["variants"]) and bezel_affirm == hive_affirm
        and Decimal(str(bezel["taxEstimate"]["rate"])) == Decimal(str(hive_data["taxes"]["tax"]["rate"])),
    }


# ---------------------------------------------------------------------------------------------- the report

_ROWS = (
    ("hive_c16", "Hive Gateway + Mesh (no cache)"),
    ("bezel_shipped_c16", "Bezel as shipped (caches on)"),
    ("bezel_uncached_c16", "Bezel, nothing cached"),
    ("hive_c1", "Hive Gateway + Mesh (no cache)"),
    ("bezel_uncached_c1", "Bezel, nothing cached"),
)


def _calls(r: dict[str, Any]) -> str:
    per = r["calls_per_page"]
    return f"{r['calls_per_page_total']:.2f} ({', '.join(f'{v} {per.get(v, 0):.2f}' for v in VENDORS)})"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def render(doc: dict[str, Any]) -> str:
    runs, hung, v = doc["runs"], doc["hung_tax"], doc["machine"]["versions"]
    idle = doc["idle_cpu_ms_per_s"]
    lines = [
        f"Run with `make bench-peer` (`{doc['command']}`). Peer: Hive Gateway {v['@graphql-hive/gateway']} "
        f"serving a supergraph from GraphQL Mesh compose {v['@graphql-mesh/compose-cli']} with "
        f"@omnigraph/openapi {v['@omnigraph/openapi']} (Node {v['node']}), one process (`--fork 1`), "
        "`NODE_ENV=production`. Bezel: `bezel serve`, production settings, one worker. Each gateway alone on "
        "core 0 (taskset); the sandbox (every vendor at its usual latency, no jitter: catalog 45, tax 90, "
        "BNPL 70 ms) and wrk share core 1. Page: "
        f"`{doc['product']}` ({doc['cheapest_variant']['variants']} variants) for 4,000 shoppers, each its "
        "own New York ZIP.",
        "",
        "| gateway | connections | req/s | p50 / p99 ms | CPU per page | its core busy | peak RSS "
        "| vendor calls per page (catalog, tax, bnpl) | non-2xx (wrk / counted) | other load on the machine |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label in _ROWS:
        r = runs[key]
        lines.append(f"| {label} | {r['connections']} | {r['throughput_rps']:,.1f} | "
                     f"{r['latency_ms']['p50']:.0f} / {r['latency_ms']['p99']:.0f} | {r['cpu_ms_per_page']:.2f} ms | "
                     f"{r['gateway_cpu_share']:.0%} | {r['rss_peak_mb']:.0f} MB | {_calls(r)} | "
                     f"{r['non_2xx']} / {r['counted']['non_200']} | "
                     f"{r['other_load_cores']:.2f} cores |")
    h16, h1 = runs["hive_c16"], runs["hive_c1"]
    b16, b1, shipped = runs["bezel_uncached_c16"], runs["bezel_uncached_c1"], runs["bezel_shipped_c16"]
    lines += [
        "",
        f"- Throughput at 16 connections: Bezel as shipped {_ratio(shipped['throughput_rps'], h16['throughput_rps'])}"
        f" Hive's; Bezel with nothing cached {_ratio(b16['throughput_rps'], h16['throughput_rps'])}.",
        f"- CPU per page with nothing cached: at 1 connection ({h1['calls_per_page_total']:.2f} and "
        f"{b1['calls_per_page_total']:.2f} vendor calls per page) Hive {h1['cpu_ms_per_page']:.2f} ms, Bezel "
        f"{b1['cpu_ms_per_page']:.2f} ms (Hive / Bezel {_ratio(h1['cpu_ms_per_page'], b1['cpu_ms_per_page'])}); "
        f"at 16 connections Hive {h16['cpu_ms_per_page']:.2f} ms, Bezel {b16['cpu_ms_per_page']:.2f} ms "
        f"({_ratio(h16['cpu_ms_per_page'], b16['cpu_ms_per_page'])}), where Bezel made "
        f"{b16['calls_per_page_total']:.2f} calls per page against Hive's {h16['calls_per_page_total']:.2f} "
        "(below). With no traffic at all the gateway itself used "
        f"{idle['hive']:.1f} ms of CPU per second (Hive), {idle['bezel_uncached']:.1f} (Bezel, nothing cached) "
        f"and {idle['bezel_shipped']:.1f} (Bezel as shipped), counted in 10 ms clock ticks over "
        f"{doc['durations']['idle_s']} s: at 1 connection that alone is "
        f"~{idle['hive'] / h1['throughput_rps']:.1f} ms of Hive's CPU per page and "
        f"~{idle['bezel_uncached'] / b1['throughput_rps']:.1f} ms of Bezel's.",
        f"- Peak RSS (the gateway's process tree): Hive {h16['rss_peak_mb']:.0f} MB, Bezel "
        f"{shipped['rss_peak_mb']:.0f} MB as shipped, {b16['rss_peak_mb']:.0f} MB with nothing cached.",
        f"- Same answers (variants, tax rate, Affirm's monthly payments): {_yes(doc['same_answers']['equal'])} "
        f"({doc['same_answers']['variants'][0]} variants; tax rate {doc['same_answers']['tax_rate'][0]}). "
        f"Response size: Bezel {doc['pages']['bezel']['bytes']:,} bytes, Hive {doc['pages']['hive']['bytes']:,}.",
        "",
        "How to read it:",
        "",
        "- \"Nothing cached\" for Bezel is this override of its shipped configuration: `"
        + " ".join(f"{k}={val}" for k, val in doc["uncached_env"].items()) + "`. No answer is stored and no "
        "hedged second attempt is sent. At 1 connection it then makes exactly the peer's calls. At 16 it still "
        "merges identical calls that are in flight at the same moment (single-flight, which no setting turns "
        "off): the catalog call and the two BNPL calls are the same for every shopper of one product, so "
        "concurrent pages share them; tax differs per shopper (the ZIP) and is asked for every page. No input "
        "can make those calls differ (the product is the page; Afterpay's configuration takes no input), so "
        "at 16 connections Bezel's page costs fewer vendor calls than Hive's: compare CPU per page like for "
        "like at 1 connection.",
        f"- At 16 connections the gateway's core was {h16['gateway_cpu_share']:.0%} busy for Hive, "
        f"{shipped['gateway_cpu_share']:.0%} for Bezel as shipped and {b16['gateway_cpu_share']:.0%} for Bezel "
        "with nothing cached. A gateway whose core is not full is bound by the page's latency (req/s = 16 / "
        "latency): Bezel's page waits for the catalog (45 ms) before it asks tax (90 ms) with the price it read "
        "there; Hive's client sends the price, so Hive sends all four calls at once.",
        "- Calls per page: the sandbox's own count (`GET /_admin/calls`) for "
        f"{doc['durations']['counted_pages']} pages sent right after each 16-connection run "
        f"({doc['durations']['counted_pages'] // 10} after each 1-connection run) at the same concurrency, "
        "counted once all had answered. CPU per page: user + system time of the gateway's process tree "
        "(`/proc/PID/stat`, children included) over the wrk run, divided by the pages wrk completed. Peak RSS: "
        "the process tree's VmRSS, sampled every 200 ms during the run. Other load: the machine's busy CPU time "
        "(`/proc/stat`) during the run less the gateway's, the sandbox's, wrk's and this driver's, in cores: "
        "the machine is shared, and a run with other load is noisier than one without (each run first waits, "
        "up to a minute, for a second in which other work used under 0.15 of a core).",
        "",
        "## The tax vendor hangs",
        "",
        "Upstream timeouts are the same on both sides: Bezel's `timeout_ms` per vendor (catalog 400, tax 500, "
        "BNPL 400; page budget 1,200 ms), set on Hive with `upstreamTimeout` (bench/peer/gateway.config.ts). "
        "Each page has a ZIP never asked before, so no cached answer can stand in.",
        "",
        "| gateway | HTTP status | what came back | error | leaks vendor URL | leaks request body | time to answer "
        "| tax calls per page | sockets to the sandbox: before / 2 s after (awaiting an answer) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for side, label in (("hive", "Hive Gateway + Mesh"), ("bezel", "Bezel")):
        h = hung[side]
        page = h["pages"][0]
        came = ", ".join(k for k, ok in page["parts"].items() if ok) or "nothing"
        error = page["errors"][0] if page["errors"] else {}
        message = str(error.get("message", ""))[:120]
        code = (error.get("extensions") or {}).get("code", "")
        times = " / ".join(f"{p['ms']:,.0f}" for p in h["pages"])
        statuses = ", ".join(sorted({str(p["status"]) for p in h["pages"]}))
        b, a = h["sockets_before"], h["sockets_after"]
        lines.append(f"| {label} | {statuses} | {came} | {code}: \"{message}\" | {_yes(page['leaks_vendor_url'])} | "
                     f"{_yes(page['leaks_request_body'])} | {times} ms | {h['tax_calls_per_page']} | "
                     f"{b['established']} ({b['awaiting_answer']}) / "
                     f"{a['established']} ({a['awaiting_answer']}) after {len(h['pages'])} hung "
                     f"page{'s' if len(h['pages']) > 1 else ''} |")
    hive_page = hung["hive"]["pages"][0]
    if hive_page["status"] != 200 and any(hive_page["parts"].values()):
        lines += ["", f"Hive's answer is HTTP {hive_page['status']} for the whole response although its body "
                  "carries what the other vendors answered: a client, CDN or load balancer that treats a 5xx as a "
                  "failure drops the page (and may retry it)."]
    lines += [
        "",
        "Sockets: ESTABLISHED connections from the gateway's processes to the sandbox's port (`ss -tnpi`); "
        "\"awaiting an answer\" are those whose last traffic was the gateway's request (lastsnd < lastrcv), "
        "i.e. hung calls the gateway gave up on without closing the connection.",
        "",
        "Hive's first error in full: `" + json.dumps(hung["hive"]["pages"][0]["errors"][:1])[:700] + "`",
        "",
        "Bezel's first error in full: `" + json.dumps(hung["bezel"]["pages"][0]["errors"][:1])[:700] + "`",
        "",
        "## Where the pages differ",
        "",
        "- **Prices come from the client on Hive.** Tax and financing are for the lowest-priced variant "
        f"({doc['cheapest_variant']['sku']}, ${doc['cheapest_variant']['price']}). Bezel reads that price from "
        "the catalog answer inside the request (so it asks the catalog first, then tax and BNPL together). The "
        "Mesh supergraph has three unrelated root fields: the client sends the amount, in dollars for TaxJar "
        "and in cents for Affirm, and the SKU, which it must already know; all four calls then go out at once. "
        "A client with a stale price gets a tax estimate for the wrong amount.",
        "- **Shapes.** Hive answers the vendors' own shapes (Shopify `option1..3`, prices as decimal strings, "
        "HTML `body_html`, Affirm cents, Afterpay limits); the client must map options, compute the price "
        "range, strip HTML and compute the Afterpay offer from its limits. Bezel answers `selectedOptions`, "
        "`priceRange`, `Money`, and merged financing offers (Affirm's terms plus Afterpay's 4 payments).",
        "- **Same vendor calls.** Both pages make one catalog call, one TaxJar call, and two BNPL calls "
        "(Affirm promos, Afterpay configuration) when nothing is cached; the queries are in bench/peer.py.",
        "- **Failure.** Bezel's tax field is null with a `VENDOR_UNAVAILABLE` error naming the vendor when it "
        "has no earlier answer (with one, that answer stands in, marked STALE, and there is no error); Hive's "
        "`taxes` field is null with the transport's error, as in the table above.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few seconds per run: checks the harness only")
    args = parser.parse_args()
    if not wrk.available():
        raise SystemExit("wrk is needed (apt-get install wrk)")
    if len(os.sched_getaffinity(0)) > 1:  # this driver (and what it starts unpinned) stays off the gateway's core
        os.sched_setaffinity(0, {int(env.LOAD_CORE)})
    stamp = machine()
    stamp["versions"].update(peer_versions())
    results = run(args.quick)
    doc = {"title": "Bezel beside Hive Gateway + GraphQL Mesh: the same page over the same sandbox",
           "command": ".venv/bin/python -m bench.peer" + (" --quick" if args.quick else ""), "machine": stamp,
           **results}
    name = "peer-quick" if args.quick else "peer"
    (env.WORK / f"{name}.json").write_text(json.dumps(doc, indent=2))  # kept should the report fail to render
    write(name, doc, render(doc))
    print((env.ROOT / "bench" / "results" / f"{name}.md").read_text())


if __name__ == "__main__":
    main()
