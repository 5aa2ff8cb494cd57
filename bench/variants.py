"""CPU per page, latency and gateway overhead of the 30-, 220- and 1,200-variant product pages, before and after.

    .venv/bin/python -m bench.variants --base <rev> [--rounds 3] [--seconds 10] [--catalog-live] [--out NAME]

The README's page (the storefront's `ProductPage`, `bench.pages`) for `lumiere-sapphire-pendant` (30
variants), `seraphina-halo-ring` (220) and `bespoke-solitaire-configurator` (1,200), new shoppers at a
fixed rate per product (tax, insurance and engraving live), the working tree against `--base`, both in
the same minutes, alternating round by round (base, work, work, base, ...) as `bench.ab` does, on one
sandbox (the working tree's: its REST routes serve the base's connector, its Storefront API ours).
`--catalog-live`: the catalog's fresh TTL at 0, so every page reads the product from the catalog: what
reading it costs (three Storefront API round trips for 1,200 variants against REST's one answer, which
real Shopify caps at 100 variants). Per page: the gateway's CPU (user + system over the run, divided by
the pages answered), the latency the client saw and the overhead inside the gateway (Server-Timing
minus the vendors' critical path), medians of the rounds of each percentile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
from typing import Any

from bench import env, loadgen
from bench.ab import _worktree
from bench.common import machine, percentiles
from bench.pages import BIG, STANDARD
from bench.summaries import shopper_mix

CONFIGURATOR = "bespoke-solitaire-configurator"
# Pages per second for each product: well under what one gateway core answers, so CPU per page is
# measured on a gateway that is not queueing (the 1,200-variant page costs tens of ms of CPU).
RATES = {STANDARD: 40.0, BIG: 16.0, CONFIGURATOR: 5.0}
LIVE_CATALOG = {"BEZEL_VENDORS__CATALOG__CACHE_TTL_S": "0", "BEZEL_VENDORS__CATALOG__REVALIDATE_S": "0",
                "BEZEL_VENDORS__CATALOG__STALE_TTL_S": "0"}


def _round(box: env.Sandbox, handle: str, *, seconds: float, extra: dict[str, str]) -> dict[str, Any]:
    box.reset()
    rate = RATES[handle]
    bodies = shopper_mix(handle, n=int(rate * seconds) + 20)
    with env.gateway(box, **extra) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, bodies[-20:], rate=min(rate, 10), seconds=2))  # warm
        cpu0 = gw.cpu_seconds()
        run = asyncio.run(loadgen.fixed_rate(url, bodies[:int(rate * seconds)], rate=rate, seconds=seconds))
        cpu = gw.cpu_seconds() - cpu0
    ok = run.ok
    inside = [s.gateway_overhead_ms for s in ok if s.gateway_overhead_ms is not None]
    return {"cpu_ms_per_page": round(cpu / max(1, len(ok)) * 1e3, 2), "pages": len(ok),
            "non_200": len(run.samples) - len(ok), "with_errors": sum(1 for s in ok if s.error_codes),
            "latency_ms": percentiles([s.latency_ms for s in run.samples]),
            "overhead_inside_ms": percentiles(inside) if inside else None,
            "catalog_ms": percentiles([s.vendors.get("catalog", {}).get("ms", 0.0) for s in ok]) if ok else None}


def _median(runs: list[dict[str, Any]], key: str, stat: str) -> float:
    values = [r[key][stat] for r in runs if r.get(key)]
    return round(statistics.median(values), 1) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.variants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the git revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--catalog-live", action="store_true", help="every page reads the product from the catalog")
    parser.add_argument("--only", help="comma-separated handles (default: all three)")
    parser.add_argument("--out", help="also write bench/results/OUT.md and OUT.json")
    args = parser.parse_args()
    extra = LIVE_CATALOG if args.catalog_live else {}
    sides = {"base": {**extra, "PYTHONPATH": str(_worktree(args.base))}, "work": dict(extra)}
    handles = args.only.split(",") if args.only else list(RATES)
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {h: {"base": [], "work": []} for h in handles}
    with env.sandbox() as box:
        for i in range(args.rounds):
            for handle in handles:
                for side in (("base", "work") if i % 2 == 0 else ("work", "base")):
                    result = _round(box, handle, seconds=args.seconds, extra=sides[side])
                    rows[handle][side].append(result)
                    print(handle, side, result["cpu_ms_per_page"], "ms CPU/page", result["latency_ms"]["p99"],
                          "ms p99", flush=True)
    lines = ["| page | side | CPU ms/page | latency p50 / p95 / p99 ms | overhead inside p50 / p95 / p99 ms "
             "| catalog ms p50 | non-200 / with errors |", "|---|---|---|---|---|---|---|"]
    for handle, sides_runs in rows.items():
        for side, runs in sides_runs.items():
            cpu = statistics.median(r["cpu_ms_per_page"] for r in runs)
            lines.append(
                f"| {handle} | {side} | {cpu:.2f} (rounds {[r['cpu_ms_per_page'] for r in runs]}) | "
                f"{_median(runs, 'latency_ms', 'median')} / {_median(runs, 'latency_ms', 'p95')} / "
                f"{_median(runs, 'latency_ms', 'p99')} | {_median(runs, 'overhead_inside_ms', 'median')} / "
                f"{_median(runs, 'overhead_inside_ms', 'p95')} / {_median(runs, 'overhead_inside_ms', 'p99')} | "
                f"{_median(runs, 'catalog_ms', 'median')} | {sum(r['non_200'] for r in runs)} / "
                f"{sum(r['with_errors'] for r in runs)} |")
        base = statistics.median(r["cpu_ms_per_page"] for r in sides_runs["base"])
        work = statistics.median(r["cpu_ms_per_page"] for r in sides_runs["work"])
        lines.append(f"| {handle} | work / base | {work / base:.3f} | | | | |")
    print("\n".join(lines))
    if args.out:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=env.ROOT, capture_output=True,
                              text=True).stdout.strip()
        command = "python -m bench.variants " + " ".join(sys.argv[1:])
        mode = "every page reads the product from the catalog (fresh TTL 0)" if args.catalog_live else \
            "new shoppers, the product from cache (tax, insurance, engraving live)"
        rates = ", ".join(f"{h} {r:g}/s" for h, r in RATES.items() if h in handles)
        text = (f"# Product pages by variant count: the working tree at {head} against {args.base}\n\n"
                f"`{command}`: {mode}; {rates}; {args.seconds:g} s a round, {args.rounds} rounds alternating.\n\n"
                + "\n".join(lines) + "\n")
        (env.ROOT / "bench" / "results" / f"{args.out}.md").write_text(text)
        (env.ROOT / "bench" / "results" / f"{args.out}.json").write_text(json.dumps(
            {"command": command, "machine": machine(), "rates": RATES, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
