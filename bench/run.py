"""Run every benchmark and commit-ready results: `make bench` (or `python -m bench.run [--quick] [--only ...]`).

Writes bench/results/summary.md (tables, targets), benchmarks.json (every number and raw sample) and
summary.png, each stamped with the command, the machine and the versions. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import attack, browser, documents, env, orders, overload, pages, scaling, scenarios, tracing_load, wrk
from bench.common import RESULTS, machine
from bench.report import render

SCENARIOS = ("product_page_30", "product_page_220", "warm_ceiling", "degraded", "storefront", "checkout",
             "tracing", "trusted_vs_text", "document_attack", "under_attack", "browser", "scaling", "overload")


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
        s = 5 if q else None  # quick runs: a few seconds each

        plan: dict[str, tuple[Callable[[], str | None], Callable[[], Any]]] = {
            "product_page_30": (_always, lambda: scenarios.product_page(
                box, pages.STANDARD, rate=100, seconds=s or 30, saturation_s=s or 20)),
            # 50 rps: live, this page costs ~11 ms of CPU, so 100 rps is past one worker's capacity and a
            # fixed rate there would only measure a growing queue; saturation (wrk) gives the ceiling.
            "product_page_220": (_always, lambda: scenarios.product_page(
                box, pages.BIG, rate=50, seconds=s or 30, saturation_s=s or 20)),
            "warm_ceiling": (_wrk, lambda: scenarios.warm_ceiling(box, seconds=s or 20)),
            "degraded": (_always, lambda: scenarios.degraded(box, rate=50, seconds=s or 20)),
            "storefront": (_always, lambda: scenarios.storefront_comparison(box, runs=5 if q else 30)),
            "checkout": (_redis, lambda: orders.checkout(box, env.redis_url() or "", seconds=s or 20, concurrency=8,
                                                         sync_orders=10 if q else 40)),
            "tracing": (_wrk, lambda: tracing_load.tracing_on_off(box, seconds=s or 15, rounds=1 if q else 2)),
            "trusted_vs_text": (_wrk, lambda: documents.trusted_vs_text(box, seconds=s or 15, rounds=1 if q else 2)),
            "document_attack": (_always, lambda: documents.under_document_attack(box, rate=50, attack_rate=20,
                                                                                 seconds=s or 20)),
            "under_attack": (_redis, lambda: attack.under_attack(box, env.redis_url() or "", rate=50,
                                                                 seconds=s or 20)),
            "browser": (_chromium, lambda: browser.page_loads(box, loads=5 if q else 30)),
            "scaling": (_redis_server, lambda: scaling.single_vs_cluster(box, rate=60, seconds=s or 20,
                                                                         orders=20 if q else 100)),
            "overload": (_wrk, lambda: overload.past_capacity(box, seconds=s or 20)),
        }
        for name, (missing, run) in plan.items():
            if name not in only:
                continue
            reason = missing()
            if reason:
                print(f"bench: {reason}; the {name} scenario is skipped", file=sys.stderr)
                continue
            try:
                results[name] = run()
            except Exception as exc:  # one broken scenario must not lose the others' numbers
                traceback.print_exc()
                results[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            _progress(name, results)
    stamp = machine()
    command = "make bench" + (" (quick)" if q else "")
    doc = {"command": command, "machine": stamp, "elapsed_s": round(time.time() - started), "results": results}
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if q else ""
    if args.only and not q:  # a subset rerun: the other scenarios' committed results stay, each rerun says when
        doc = _merged(doc, only, " ".join(sys.argv[1:]))
    (RESULTS / f"benchmarks{suffix}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (RESULTS / f"summary{suffix}.md").write_text(render(doc))
    if not q and not args.only:  # the charts are of a whole run
        from bench.charts import draw

        draw(results, f"{stamp['cores']} cores, {stamp['cpu']}, git {stamp['git']}, {stamp['when']}", RESULTS)
    print(render(doc))
    return 0


def _merged(doc: dict[str, Any], rerun: set[str], arguments: str) -> dict[str, Any]:
    """The committed results with the scenarios just run replaced, each marked with its own run."""
    path = RESULTS / "benchmarks.json"
    if not path.exists():
        return doc
    committed = json.loads(path.read_text())
    for name in rerun & doc["results"].keys():
        committed["results"][name] = {**doc["results"][name], "rerun": {
            "command": f"python -m bench.run {arguments}", "git": doc["machine"]["git"],
            "when": doc["machine"]["when"], "elapsed_s": doc["elapsed_s"]}}
    return committed


def _always() -> str | None:
    return None


def _wrk() -> str | None:
    return None if wrk.available() else "wrk is not installed (apt-get install wrk)"


def _redis() -> str | None:
    return None if env.redis_url() else "no Redis (REDIS_URL)"


def _chromium() -> str | None:
    return None if browser.available() else "Chromium is not installed (apt-get install chromium)"


def _redis_server() -> str | None:
    return None if scaling.available() else "no redis-server"


def _progress(name: str, results: dict[str, Any]) -> None:
    print(f"bench: {name} done", file=sys.stderr, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS.parent / ".work").mkdir(exist_ok=True)
    (RESULTS.parent / ".work" / "partial.json").write_text(json.dumps(results, indent=1))  # a crash keeps these


if __name__ == "__main__":
    raise SystemExit(main())
