"""The answer store (`gateway.answers`, `[answers]`) on and off: the warm README page by its manifest id, one
shopper's variables, wrk at 16 connections, alternating rounds on one sandbox (these machines drift between
minutes: read the CPU per request). `python -m bench.answers [--seconds 8] [--rounds 2]`; prints JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench import env, loadgen, wrk
from bench.common import machine, write
from bench.pages import MANIFEST, STANDARD, page_body
from bench.summaries import wrk_summary


def on_and_off(box: env.Sandbox, *, seconds: int, rounds: int) -> dict[str, Any]:
    box.reset()
    box.stock_all(STANDARD, 10)  # above safety stock: a page whose stock is scarce is never kept
    body = page_body(STANDARD, by_id=True)
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    for _ in range(rounds):
        for mode in runs:
            with env.gateway(box, BEZEL_DOCUMENTS__MANIFEST=str(MANIFEST),
                             BEZEL_ANSWERS__ENABLED="true" if mode == "on" else "false") as gw:
                url = f"{gw.url}/graphql"
                loadgen.warm(url, body)  # the first asked live (not kept), the next from cache (kept, when on)
                cpu0 = gw.cpu_seconds()
                result = wrk.run(url, [body], seconds=seconds, connections=16, name=f"answers-{mode}")
                summary = wrk_summary(result, gw.cpu_seconds() - cpu0)
                runs[mode].append({k: summary[k] for k in ("throughput_rps", "gateway_cpu_us_per_request")})
    return {"runs": runs, **{mode: {"throughput_rps": max(r["throughput_rps"] for r in results),
                                    "gateway_cpu_us_per_request": min(r["gateway_cpu_us_per_request"] for r in results)}
                             for mode, results in runs.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", help="write bench/results/OUT.md and OUT.json")
    args = parser.parse_args()
    with env.sandbox() as box:
        found = on_and_off(box, seconds=args.seconds, rounds=args.rounds)
    print(json.dumps(found, indent=1))
    if args.out:
        lines = ["| answer store | req/s (runs) | gateway CPU per request (runs) |", "|---|---|---|"]
        for mode, runs in found["runs"].items():
            rps = ", ".join(f"{r['throughput_rps']:,.0f}" for r in runs)
            cpu = ", ".join(f"{r['gateway_cpu_us_per_request']:,.0f} us" for r in runs)
            lines.append(f"| {mode} | {rps} | {cpu} |")
        write(args.out, {"title": "The warm README page by id, the answer store off and on",
                         "command": "python -m bench.answers " + " ".join(sys.argv[1:]), "machine": machine(),
                         **found}, "\n".join(lines) + f"\n\nwrk, 16 connections, {args.seconds} s a run, one "
                         "shopper's variables; one `bezel serve` worker pinned to its core, production settings.")


if __name__ == "__main__":
    main()
