"""A new shopper's README page in the production configuration: CPU and Redis commands per page.

    .venv/bin/python -m bench.redis_tier [--sides no_redis,redis] [--base REV] [--rounds 3] [--rate 50]
                                         [--seconds 12] [--out NAME]

Production runs the shared Redis tier (every process sees the same answers, single-flight across
processes, shared rate limits), with rate limits on and tracing sampled 1 in 10 (to an OTLP sink that
drops what it gets). Each round starts one `bezel serve` worker as it ships on the bench sandbox, warms
the catalog and BNPL with other shoppers, then sends `rate * seconds` new shoppers (a new address and
engraving each: tax, insurance and engraving asked live) at a fixed rate, and reports the worker's
CPU per page (process CPU time / pages answered) and its Redis commands and round trips per page,
counted inside the gateway process by a hook on redis-py's connection (bench/redis_hook: INFO
commandstats is server-wide and the machine is shared). Redis is db 15 (the tests use 2-13, the
checkout benchmark 14), emptied before each round so every round's shoppers are new to it.

Sides (alternating, A B B A ...; medians with the spread, since these machines drift between minutes):
`no_redis` (the same, without Redis), `redis` (production), `redis_no_hiredis` (production with
`hiredis` hidden from redis-py), `redis_base` (production, the code of `--base REV`),
`redis_base_no_hiredis` (both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from bench import env, loadgen
from bench.ab import _worktree
from bench.common import machine, percentiles, write
from bench.pages import STANDARD
from bench.summaries import shopper_mix
from bench.tracing_load import _otlp_sink

REDIS_DB = 15
HOOK = Path(__file__).resolve().parent / "redis_hook"


def redis_url() -> str:
    base = "redis://127.0.0.1:6379"
    return f"{base}/{REDIS_DB}"


@contextlib.contextmanager
def production_env() -> Iterator[dict[str, str]]:
    """A gateway's environment in the production configuration: the shared tier on db 15 (emptied),
    tracing sampled 1 in 10 to a sink that drops it (rate limits are on as shipped)."""
    client = redis.Redis.from_url(redis_url())
    client.flushdb()
    client.close()
    with _otlp_sink() as sink:
        yield {**_tracing(sink), "REDIS_URL": redis_url()}


def _tracing(sink: str) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": sink, "OTEL_BSP_SCHEDULE_DELAY": "500",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}


def _counts(directory: Path) -> dict[str, int]:
    total: dict[str, int] = {}
    for path in directory.glob("*.json"):
        try:
            for name, n in json.loads(path.read_text()).items():
                total[name] = total.get(name, 0) + n
        except (OSError, ValueError):
            continue
    return total


def _round(box: env.Sandbox, bodies: list[bytes], *, rate: float, seconds: float, extra: dict[str, str],
           uses_redis: bool, code: Path = env.ROOT) -> dict[str, Any]:
    box.reset()
    if uses_redis:
        client = redis.Redis.from_url(redis_url())
        client.flushdb()
        client.close()
    counts_dir = env.WORK / "redis-counts"
    shutil.rmtree(counts_dir, ignore_errors=True)
    counts_dir.mkdir(parents=True)
    path = extra.get("PYTHONPATH")
    keys = {"BEZEL_BENCH_REDIS_KEYS": "1"} if os.environ.get("BEZEL_BENCH_REDIS_KEYS") else {}
    extra = {**extra, **keys, "BEZEL_BENCH_REDIS_COUNTS": str(counts_dir),
             "PYTHONPATH": f"{HOOK}:{path}" if path else str(HOOK)}
    with env.gateway(box, code=code, **extra) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, bodies[-300:], rate=20, seconds=5))  # warm: catalog, BNPL cached
        asyncio.run(asyncio.sleep(0.5))  # the counters' files catch up
        before, cpu0 = _counts(counts_dir), gw.cpu_seconds()
        run = asyncio.run(loadgen.fixed_rate(url, bodies[:int(rate * seconds)], rate=rate, seconds=seconds))
        cpu = gw.cpu_seconds() - cpu0
        asyncio.run(asyncio.sleep(0.5))
        after = _counts(counts_dir)
    pages = max(1, len(run.ok))
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    by_command = {k.removeprefix("cmd:"): round(v / pages, 2) for k, v in sorted(delta.items())
                  if k.startswith("cmd:") and v}
    inside = [s.gateway_overhead_ms for s in run.ok if s.gateway_overhead_ms is not None]
    return {"cpu_us_per_page": round(cpu / pages * 1e6), "pages": len(run.ok),
            "non_200": len(run.samples) - len(run.ok),
            "with_errors": sum(1 for s in run.ok if s.error_codes),
            "redis_commands_per_page": round(delta.get("commands", 0) / pages, 2),
            "redis_round_trips_per_page": round(delta.get("round_trips", 0) / pages, 2),
            "redis_by_command": by_command,
            "redis_by_key": {k.removeprefix("key:"): round(v / pages, 2) for k, v in sorted(delta.items())
                             if k.startswith("key:") and v},
            "overhead_inside_ms": percentiles(inside) if inside else None}


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.redis_tier", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", default="no_redis,redis")
    parser.add_argument("--base", help="the git revision for the redis_base side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--out", help="write bench/results/OUT.md and OUT.json")
    args = parser.parse_args()
    names = args.sides.split(",")
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with _otlp_sink() as sink, env.sandbox() as box:
        production = _tracing(sink)
        shared = {**production, "REDIS_URL": redis_url()}
        sides: dict[str, dict[str, str]] = {
            "no_redis": production, "redis": shared, "redis_no_hiredis": {**shared, "BEZEL_BENCH_NO_HIREDIS": "1"}}
        code = {}
        if args.base:
            code["redis_base"] = code["redis_base_no_hiredis"] = _worktree(args.base)
            sides["redis_base"] = shared
            sides["redis_base_no_hiredis"] = sides["redis_no_hiredis"]
        bodies = shopper_mix(STANDARD)
        for i in range(args.rounds):
            for name in names if i % 2 == 0 else list(reversed(names)):
                row = _round(box, bodies, rate=args.rate, seconds=args.seconds, extra=sides[name],
                             uses_redis="REDIS_URL" in sides[name], code=code.get(name, env.ROOT))
                rows[name].append(row)
                print(name, row["cpu_us_per_page"], "us/page,", row["redis_commands_per_page"], "commands,",
                      row["redis_round_trips_per_page"], "round trips per page;", row["redis_by_command"],
                      flush=True)
    lines = ["| side | CPU per page (median, runs) | Redis commands / round trips per page (median) | "
             "commands per page, by name (last run) | non-200 / with errors |", "|---|---|---|---|---|"]
    for name, runs in rows.items():
        cpu = [r["cpu_us_per_page"] for r in runs]
        lines.append(
            f"| {name} | {statistics.median(cpu) / 1000:.2f} ms ({', '.join(f'{c / 1000:.2f}' for c in cpu)}) | "
            f"{statistics.median(r['redis_commands_per_page'] for r in runs):.1f} / "
            f"{statistics.median(r['redis_round_trips_per_page'] for r in runs):.1f} | "
            f"{', '.join(f'{k} {v:g}' for k, v in runs[-1]['redis_by_command'].items()) or '-'} | "
            f"{sum(r['non_200'] for r in runs)} / {sum(r['with_errors'] for r in runs)} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        stamp = machine()
        if _dirty():
            stamp["git"] += " (+ working tree)"
        note = (f"{args.rate:g} new shoppers/s for {args.seconds:g} s per round, {args.rounds} rounds alternating; "
                "Redis counted in the gateway process (bench/redis_hook).")
        write(args.out, {"title": "A new shopper's README page, production configuration",
                         "command": "python -m bench.redis_tier " + " ".join(sys.argv[1:]), "machine": stamp,
                         "rows": rows}, note + "\n\n" + table)


def _dirty() -> bool:
    return bool(subprocess.run(["git", "status", "--porcelain", "--", "connectors", "gateway", "schema", "resolvers"],
                               cwd=env.ROOT, capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
