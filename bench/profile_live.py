"""Where a new shopper's page spends the gateway's CPU: py-spy on the running server, committed.

New shoppers on the README page at 100 pages/s (tax, insurance and engraving asked live; catalog and
BNPL from cache), `bezel serve` as it ships, sampled from outside by py-spy (no profiler inside the
process, so nothing is slowed but the sampling itself). Samples are grouped by where their innermost
frame is: a library, the event loop and sockets (`asyncio`: with the kernel's work for each send and
wake-up charged to it), or one of Bezel's layers.

    .venv/bin/python -m bench.profile_live   # writes bench/results/live_profile.{txt,collapsed}; ~1 min
    .venv/bin/python -m bench.profile_live --production   # live_profile_production.*: the shared Redis tier
                                                          # (db 15), tracing sampled 1 in 10, at 50 pages/s

`--production` also counts samples by what is on the stack (inclusive): redis-py, our Redis callers.
"""

from __future__ import annotations

import asyncio
import collections
import re
import shutil
import subprocess
import time
from pathlib import Path

from bench import env, loadgen
from bench.pages import STANDARD
from bench.summaries import shopper_mix

RATE, SECONDS = 100, 20
GROUPS = ("redis/", "hiredis", "uvicorn", "starlette", "strawberry", "graphql", "aiohttp", "aiodataloader",
          "opentelemetry", "asyncio", "selectors", "gateway/", "schema/", "resolvers/", "connectors/",
          "<flat selection")


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(env.BIN / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: uv sync --group bench")
    return found


# Inclusive: a sample counts for every one of these found anywhere on its stack.
ON_STACK = ("(redis/", "(hiredis", "connectors/redisclient.py", "connectors/policy/singleflight.py",
            "connectors/policy/cache.py", "(limits/", "connectors/ratelimits.py", "(opentelemetry/", "(aiohttp/",
            "_SelectorSocketTransport.write")


def record(output: Path, *, rate: int = RATE, extra: dict[str, str] | None = None) -> dict[str, float]:
    bodies = shopper_mix(STANDARD)
    with env.sandbox() as box:
        box.reset()
        with env.gateway(box, **(extra or {})) as gw:
            url = f"{gw.url}/graphql"
            asyncio.run(loadgen.fixed_rate(url, bodies[-200:], rate=20, seconds=5))  # warm-up
            worker = env.worker_pid(gw)
            spy = subprocess.Popen([_py_spy(), "record", "--nonblocking", "--rate", "250", "--format", "raw",
                                    "--output", str(output), "--pid", str(worker), "--duration", str(SECONDS + 1)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            cpu0 = gw.cpu_seconds()
            run = asyncio.run(loadgen.fixed_rate(url, bodies[:rate * SECONDS], rate=rate, seconds=SECONDS))
            cpu = gw.cpu_seconds() - cpu0
            spy.wait(timeout=SECONDS + 30)
    return {"pages": len(run.ok), "gateway_cpu_us_per_page": round(cpu / max(1, len(run.ok)) * 1e6)}


def summarize(collapsed: Path) -> str:
    on_stack: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    groups: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        leaf = re.sub(r"\(/\S*/site-packages/|\(/\S*/lib/python3\.\d+/|\(/\S*?/work/main/", "(",
                      stack.split(";")[-1])
        own[re.sub(r":\d+\)$", ")", leaf)] += n
        groups[next((g.rstrip("/") for g in GROUPS if g in leaf), "other")] += n
        for part in ON_STACK:
            on_stack[part] += n if part in stack else 0
    lines = [f"{total} samples", "", "== Own samples by where the innermost frame is =="]
    lines += [f"{100 * v / total:5.1f}%  {k}" for k, v in groups.most_common()]
    lines += ["", "== Samples with this anywhere on the stack (inclusive) =="]
    lines += [f"{100 * v / total:5.1f}%  {k}" for k, v in on_stack.most_common()]
    lines += ["", "== Top functions by own samples =="]
    lines += [f"{100 * v / total:5.1f}%  {k}" for k, v in own.most_common(50)]
    return "\n".join(lines) + "\n"


def main() -> None:
    import sys

    from bench.common import RESULTS, machine

    production = "--production" in sys.argv
    name = "live_profile_production" if production else "live_profile"
    RESULTS.mkdir(exist_ok=True)
    collapsed = RESULTS / f"{name}.collapsed"
    rate = 50 if production else RATE
    if production:
        from bench.redis_tier import production_env

        with production_env() as extra:
            measured = record(collapsed, rate=rate, extra=extra)
    else:
        measured = record(collapsed)
    stamp = machine()
    header = (f"New shoppers on the README page at {rate} pages/s, {SECONDS} s, py-spy on the gateway worker"
              f"{' (production: shared Redis tier, tracing 1 in 10)' if production else ''}\n"
              f"Command: .venv/bin/python -m bench.profile_live{' --production' if production else ''}\n"
              f"Machine: {stamp['cores']} cores, {stamp['cpu']}; Python {stamp['python']}; git {stamp['git']}; "
              f"{stamp['when']}\n"
              f"Gateway CPU per page during the run: {measured['gateway_cpu_us_per_page']} us "
              f"({measured['pages']} pages); raw stacks in {name}.collapsed (flamegraph.pl input)\n\n")
    text = header + summarize(collapsed)
    (RESULTS / f"{name}.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
