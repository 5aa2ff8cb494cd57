"""A/B of CPU per new-shopper page between the working tree and a git revision, alternating rounds.

    .venv/bin/python -m bench.ab --base HEAD~1 [--rounds 3] [--rate 80] [--seconds 15] [--env KEY=VALUE]

What a change to the hot path is worth, for its commit message: these machines drift by tens of
percent between minutes, so one before-run and one after-run compare noise. Here both sides run in
the same minutes, round after round (A, B, B, A, ...), on the same sandbox, and the medians are
compared. The base is checked out into a scratch worktree and put first on the gateway's PYTHONPATH
(the environment, its dependencies, is the working tree's). Each round: `bezel serve` as it ships,
new shoppers on the README page at a fixed rate (tax, insurance and engraving live; catalog and BNPL
from cache), the gateway's CPU per page and its overhead inside the gateway (Server-Timing).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench import env, loadgen
from bench.common import percentiles
from bench.pages import STANDARD
from bench.summaries import shopper_mix


def _worktree(rev: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=env.ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    path = env.WORK / f"ab-{sha}"
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=env.ROOT, check=True,
                       capture_output=True)
    return path


def _round(box: env.Sandbox, bodies: list[bytes], *, rate: float, seconds: float, extra: dict[str, str]
           ) -> dict[str, Any]:
    box.reset()
    with env.gateway(box, **extra) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, bodies[-300:], rate=20, seconds=5))  # warm: catalog, BNPL cached
        cpu0 = gw.cpu_seconds()
        run = asyncio.run(loadgen.fixed_rate(url, bodies[:int(rate * seconds)], rate=rate, seconds=seconds))
        cpu = gw.cpu_seconds() - cpu0
    inside = [s.gateway_overhead_ms for s in run.ok if s.gateway_overhead_ms is not None]
    return {"cpu_us_per_page": round(cpu / max(1, len(run.ok)) * 1e6), "non_200": len(run.samples) - len(run.ok),
            "overhead_inside_ms": percentiles(inside) if inside else None,
            "overhead_client_ms": percentiles([s.overhead_ms for s in run.ok]) if run.ok else None}


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the git revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=80.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for both gateways")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    base = _worktree(args.base)
    sides = {"base": {**extra, "PYTHONPATH": str(base)}, "work": extra}
    bodies = shopper_mix(STANDARD)
    rows: dict[str, list[dict[str, Any]]] = {"base": [], "work": []}
    with env.sandbox() as box:
        for i in range(args.rounds):
            order = ("base", "work") if i % 2 == 0 else ("work", "base")
            for side in order:
                rows[side].append(_round(box, bodies, rate=args.rate, seconds=args.seconds, extra=sides[side]))
                print(side, rows[side][-1]["cpu_us_per_page"], "us/page", flush=True)
    for side, runs in rows.items():
        cpu = statistics.median(r["cpu_us_per_page"] for r in runs)
        p50 = statistics.median(r["overhead_inside_ms"]["median"] for r in runs if r["overhead_inside_ms"])
        p99 = statistics.median(r["overhead_inside_ms"]["p99"] for r in runs if r["overhead_inside_ms"])
        c99 = statistics.median(r["overhead_client_ms"]["p99"] for r in runs if r["overhead_client_ms"])
        print(f"{side}: CPU {cpu:.0f} us/page (runs {[r['cpu_us_per_page'] for r in runs]}); overhead inside "
              f"p50 {p50:.1f} / p99 {p99:.1f} ms, client p99 {c99:.1f} ms; non-200 "
              f"{sum(r['non_200'] for r in runs)}")
    base_cpu = statistics.median(r["cpu_us_per_page"] for r in rows["base"])
    work_cpu = statistics.median(r["cpu_us_per_page"] for r in rows["work"])
    print(f"work / base CPU per page: {work_cpu / base_cpu:.3f}")


if __name__ == "__main__":
    main()
