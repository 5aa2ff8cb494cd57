"""Run every benchmark and commit-ready results: `make bench` (or `python -m bench.run [--quick] [--only ...]`).

Writes bench/results/summary.md (tables, targets), benchmarks.json (every number and raw sample) and
summary.png, each stamped with the command, the machine and the versions. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench import attack, browser, documents, env, orders, pages, scaling, scenarios, tracing_load, wrk
from bench.common import RESULTS, machine
from bench.report import render

SCENARIOS = ("product_page_30", "product_page_220", "warm_ceiling", "degraded", "storefront", "checkout",
             "tracing", "trusted_vs_text", "document_attack", "under_attack", "browser", "scaling")


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.run")
    parser.add_argument("--quick", action="store_true", help="short runs, to check the harness (not for results)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else set(SCENARIOS)
    q = args.quick
    if not wrk.available():
        print("bench: wrk is not installed (Debian: apt-get install wrk); saturation runs are skipped",
              file=sys.stderr)
    results: dict[str, Any] = {}
    started = time.time()
    with env.sandbox() as box:
        if "product_page_30" in only:
            results["product_page_30"] = scenarios.product_page(box, pages.STANDARD, rate=100,
                                                                seconds=5 if q else 30, saturation_s=5 if q else 20)
            _progress("product_page_30", results)
        if "product_page_220" in only:
            # 50 rps: live, this page costs ~11 ms of CPU, so 100 rps is past one worker's capacity and a
            # fixed rate there would only measure a growing queue; saturation (wrk) gives the ceiling.
            results["product_page_220"] = scenarios.product_page(box, pages.BIG, rate=50,
                                                                 seconds=5 if q else 30, saturation_s=5 if q else 20)
            _progress("product_page_220", results)
        if "warm_ceiling" in only and wrk.available():
            results["warm_ceiling"] = scenarios.warm_ceiling(box, seconds=5 if q else 20)
            _progress("warm_ceiling", results)
        if "degraded" in only:
            results["degraded"] = scenarios.degraded(box, rate=50, seconds=5 if q else 20)
            _progress("degraded", results)
        if "storefront" in only:
            results["storefront"] = scenarios.storefront_comparison(box, runs=5 if q else 30)
            _progress("storefront", results)
        if "checkout" in only:
            redis_url = env.redis_url()
            if redis_url is None:
                print("bench: no Redis (REDIS_URL); the checkout scenario is skipped", file=sys.stderr)
            else:
                results["checkout"] = orders.checkout(box, redis_url, seconds=5 if q else 20, concurrency=8,
                                                         sync_orders=10 if q else 40)
                _progress("checkout", results)
        if "tracing" in only and wrk.available():
            results["tracing"] = tracing_load.tracing_on_off(box, seconds=5 if q else 15, rounds=1 if q else 2)
            _progress("tracing", results)
        if "trusted_vs_text" in only and wrk.available():
            results["trusted_vs_text"] = documents.trusted_vs_text(box, seconds=5 if q else 15, rounds=1 if q else 2)
            _progress("trusted_vs_text", results)
        if "document_attack" in only:
            results["document_attack"] = documents.under_document_attack(box, rate=50, attack_rate=20,
                                                                         seconds=5 if q else 20)
            _progress("document_attack", results)
        if "under_attack" in only:
            redis_url = env.redis_url()
            if redis_url is None:
                print("bench: no Redis (REDIS_URL); the under_attack scenario is skipped", file=sys.stderr)
            else:
                results["under_attack"] = attack.under_attack(box, redis_url, rate=50, seconds=5 if q else 20)
                _progress("under_attack", results)
        if "browser" in only:
            if not browser.available():
                print("bench: Chromium is not installed (apt-get install chromium); the browser scenario is skipped",
                      file=sys.stderr)
            else:
                results["browser"] = browser.page_loads(box, loads=5 if q else 30)
                _progress("browser", results)
        if "scaling" in only:
            if not scaling.available():
                print("bench: no redis-server; the scaling scenario is skipped", file=sys.stderr)
            else:
                results["scaling"] = scaling.single_vs_cluster(box, rate=60, seconds=5 if q else 20,
                                                               orders=20 if q else 100)
                _progress("scaling", results)
    stamp = machine()
    command = "make bench" + (" (quick)" if q else "")
    doc = {"command": command, "machine": stamp, "elapsed_s": round(time.time() - started), "results": results}
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if q else ""
    (RESULTS / f"benchmarks{suffix}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (RESULTS / f"summary{suffix}.md").write_text(render(doc))
    if not q:
        from bench.charts import draw

        draw(results, f"{stamp['cores']} cores, {stamp['cpu']}, git {stamp['git']}, {stamp['when']}", RESULTS)
    print(render(doc))
    return 0


def _progress(name: str, results: dict[str, Any]) -> None:
    print(f"bench: {name} done", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
