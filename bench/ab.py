"""A/B of CPU per new-shopper page between the working tree and a git revision, alternating rounds.

    .venv/bin/python -m bench.ab --base HEAD~1 [--rounds 3] [--rate 80] [--seconds 15] [--env KEY=VALUE]
                                [--warm] [--out NAME]

What a change to the hot path is worth, for its commit message: these machines drift by tens of
percent between minutes, so one before-run and one after-run compare noise. Here both sides run in
the same minutes, round after round (A, B, B, A, ...), on the same sandbox, and the medians are
compared. The base is checked out into a scratch worktree, the gateway's directory and first on its
PYTHONPATH (the environment, its dependencies, is the working tree's; before 27 only the PYTHONPATH was
set, and `bezel serve`'s `python -m` workers ran the working tree's code on both sides). Each round:
`bezel serve` as it ships, new shoppers on the README page at a fixed rate (tax, insurance and
engraving live; catalog and BNPL from cache), the gateway's CPU per page and its overhead inside the
gateway (Server-Timing).
`--warm`: one returning shopper instead, every answer from cache. `--out NAME`: the result is also
written to bench/results/NAME.md, with the command.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
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


def _round(box: env.Sandbox, bodies: list[bytes], *, rate: float, seconds: float, extra: dict[str, str],
           code: Path = env.ROOT) -> dict[str, Any]:
    box.reset()
    with env.gateway(box, code=code, **extra) as gw:
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
    parser.add_argument("--warm", action="store_true", help="one returning shopper: every answer from cache")
    parser.add_argument("--out", help="also write the table to bench/results/OUT.md")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    base = _worktree(args.base)
    sides = {"base": extra, "work": extra}
    code = {"base": base, "work": env.ROOT}
    bodies = shopper_mix(STANDARD, n=1) * 4000 if args.warm else shopper_mix(STANDARD)
    rows: dict[str, list[dict[str, Any]]] = {"base": [], "work": []}
    with env.sandbox() as box:
        for i in range(args.rounds):
            order = ("base", "work") if i % 2 == 0 else ("work", "base")
            for side in order:
                rows[side].append(_round(box, bodies, rate=args.rate, seconds=args.seconds, extra=sides[side],
                                         code=code[side]))
                print(side, rows[side][-1]["cpu_us_per_page"], "us/page", flush=True)
    lines = []
    for side, runs in rows.items():
        cpu = statistics.median(r["cpu_us_per_page"] for r in runs)
        p50 = statistics.median(r["overhead_inside_ms"]["median"] for r in runs if r["overhead_inside_ms"])
        p99 = statistics.median(r["overhead_inside_ms"]["p99"] for r in runs if r["overhead_inside_ms"])
        c99 = statistics.median(r["overhead_client_ms"]["p99"] for r in runs if r["overhead_client_ms"])
        lines.append(f"{side}: CPU {cpu:.0f} us/page (runs {[r['cpu_us_per_page'] for r in runs]}); overhead "
                     f"inside p50 {p50:.1f} / p99 {p99:.1f} ms, client p99 {c99:.1f} ms; non-200 "
                     f"{sum(r['non_200'] for r in runs)}")
    base_cpu = statistics.median(r["cpu_us_per_page"] for r in rows["base"])
    work_cpu = statistics.median(r["cpu_us_per_page"] for r in rows["work"])
    lines.append(f"work / base CPU per page: {work_cpu / base_cpu:.3f}")
    print("\n".join(lines))
    if args.out:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=env.ROOT, capture_output=True,
                              text=True).stdout.strip()
        command = "python -m bench.ab " + " ".join(sys.argv[1:])
        page = "one returning shopper, every answer from cache" if args.warm else "new shoppers (tax, insurance, " \
            "engraving live)"
        text = (f"# A/B: the working tree at {head} against {args.base}\n\n`{command}`: {page}, {args.rate:g} "
                f"pages/s for {args.seconds:g} s, {args.rounds} rounds alternating.\n\n"
                + "\n".join(f"- {line}" for line in lines) + "\n")
        (env.ROOT / "bench" / "results" / f"{args.out}.md").write_text(text)


if __name__ == "__main__":
    main()
