"""Where a warm product page spends the gateway's CPU: a pyinstrument profile, committed.

The 30-variant page from the README, every vendor answer in cache (vendors in-process, zero
latency), posted straight into the ASGI app so no client library is on the profile. Also reports
CPU microseconds per request without sockets: the gateway's floor, next to what `bench.run`
measures through uvicorn and real connections.

    .venv/bin/python -m bench.profile_warm     # writes bench/results/warm_profile.{txt,json}
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

WARMUP, PROFILED, TIMED = 50, 400, 1000


async def _run() -> dict[str, Any]:
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    from bench.inprocess import post, warm_app
    from bench.pages import STANDARD, page_body

    body = page_body(STANDARD)
    async with warm_app() as app:
        for _ in range(WARMUP):
            status, answer = await post(app, body)
            if status != 200 or b'"errors"' in answer:
                raise RuntimeError(f"the page does not answer cleanly: {answer[:300]!r}")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(TIMED):
            await post(app, body)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        profiler = Profiler(interval=0.0005, async_mode="enabled")
        profiler.start()
        for _ in range(PROFILED):
            await post(app, body)
        profiler.stop()
    session = profiler.last_session
    flat = ConsoleRenderer(flat=True, show_all=False, unicode=False, color=False, time="percent_of_total")
    tree = ConsoleRenderer(show_all=False, unicode=False, color=False, time="percent_of_total",
                           short_mode=False)
    return {"cpu_us_per_request": round(cpu / TIMED * 1e6), "wall_us_per_request": round(wall / TIMED * 1e6),
            "requests_per_cpu_second": round(TIMED / cpu), "response_bytes": len(answer),
            "flat": "\n".join(flat.render(session).splitlines()[:60]), "tree": tree.render(session)}


def main() -> None:
    from bench.common import RESULTS, machine

    result = asyncio.run(_run())
    stamp = machine()
    header = (f"Warm 30-variant product page, in-process (no sockets), pyinstrument, {PROFILED} requests\n"
              f"Command: .venv/bin/python -m bench.profile_warm\n"
              f"Machine: {stamp['cores']} cores, {stamp['cpu']}; Python {stamp['python']}; git {stamp['git']}; "
              f"{stamp['when']}\n"
              f"CPU per request: {result['cpu_us_per_request']} us ({result['requests_per_cpu_second']} requests "
              f"per CPU second); response {result['response_bytes']} bytes\n\n")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "warm_profile.txt").write_text(
        header + "== Top functions by own time ==\n" + result["flat"] + "\n\n== Call tree ==\n"
        + result["tree"])
    summary = {k: v for k, v in result.items() if k not in ("flat", "tree")}
    (RESULTS / "warm_profile.json").write_text(orjson.dumps(
        {"command": ".venv/bin/python -m bench.profile_warm", "machine": stamp, **summary},
        option=orjson.OPT_INDENT_2).decode() + "\n")
    print(header + result["flat"])


if __name__ == "__main__":
    main()
