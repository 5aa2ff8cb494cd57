"""What a retry loop costs a call that needs no retry: `connectors.retry` beside stamina.

The call policy wraps every idempotent vendor read in a retry loop, and almost every read succeeds at
once, so what the loop costs before its first attempt is paid on every live call of every page. Each
loop runs a call that answers at once, ROUNDS times per sample; reported in microseconds per call.
stamina (`retry_context`, which builds a tenacity retrying object per call) is what three of Bezel's
loops used before `connectors.retry`; it is a dev dependency for this comparison only.

    .venv/bin/python -m bench.retry_cost          # writes bench/results/retry_cost.{json,md}
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import stamina

from connectors.retry import Backoff, retry

ROUNDS, SAMPLES = 2_000, 40
RESULTS = Path(__file__).parent / "results"


async def _answer() -> int:
    return 1


async def bezel() -> int:
    return await retry(_answer, on=lambda exc: True, backoff=Backoff(0.02, 0.2, 0.01), attempts=3)


async def with_stamina() -> int:
    async for attempt in stamina.retry_context(on=Exception, attempts=3, timeout=None, wait_initial=0.02,
                                               wait_max=0.2, wait_jitter=0.01):
        with attempt:
            return await _answer()
    raise AssertionError("unreachable")


async def bare() -> int:
    return await _answer()


async def _sample(loop: Callable[[], Awaitable[int]]) -> float:
    started = time.perf_counter()
    for _ in range(ROUNDS):
        await loop()
    return (time.perf_counter() - started) / ROUNDS * 1e6


async def measure() -> dict[str, dict[str, float]]:
    loops = {"no loop (the call alone)": bare, "connectors.retry": bezel, "stamina.retry_context": with_stamina}
    samples: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(SAMPLES):  # interleaved, so drift in the machine touches each alike
        for name, loop in loops.items():
            samples[name].append(await _sample(loop))
    out = {}
    for name, values in samples.items():
        values.sort()
        out[name] = {"median_us": round(statistics.median(values), 2),
                     "p95_us": round(values[int(len(values) * 0.95) - 1], 2), "max_us": round(values[-1], 2)}
    return out


def main() -> None:
    stamina.instrumentation.set_on_retry_hooks([])
    results = asyncio.run(measure())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    command = "python -m bench.retry_cost"
    lines = ["# What a retry loop costs a call that needs no retry\n",
             f"`{command}` at {commit}, Python {sys.version.split()[0]}, stamina {_version('stamina')}. "
             f"Each sample: {ROUNDS} calls that answer at once; {SAMPLES} samples per loop, interleaved.\n",
             "| loop | median (us per call) | p95 | max |", "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['median_us']} | {r['p95_us']} | {r['max_us']} |")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "retry_cost.md").write_text(text)
    (RESULTS / "retry_cost.json").write_text(json.dumps({"command": command, "commit": commit,
                                                         "results": results}, indent=2) + "\n")


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
