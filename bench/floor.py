"""What any GraphQL request costs the gateway here before a page's own work: the floor under every target.

`{ __typename }` asks no vendor and resolves nothing, so what it costs is HTTP (uvicorn, Starlette,
the sockets and the kernel's work charged to the process), strawberry's request pipeline and
Bezel's edge (admission, rate limits, context, the request log decision). Measured two ways:

- at saturation (wrk, 16 connections): the cheapest a request gets, the loop always busy;
- at fixed rates (25, 100, 200 requests/s, open loop): CPU per request as a page rate sees it. Here
  the cost per request falls as the rate rises: on these VMs waking an idle core (the client's, the
  vendor's, our own) is charged to the process that sends, and at low rates every answer wakes one.

    .venv/bin/python -m bench.floor     # writes bench/results/floor.{json,md}; ~1.5 min
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from bench import env, loadgen, wrk
from bench.summaries import wrk_summary

BODY = orjson.dumps({"query": "{ __typename }"})
RATES = (25, 100, 200)


def per_request_floor(box: env.Sandbox, *, seconds: int = 10) -> dict[str, Any]:
    out: dict[str, Any] = {"query": BODY.decode(), "fixed_rate": {}}
    with env.gateway(box) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, [BODY] * 100, rate=20, seconds=5))  # warm-up
        for rate in RATES:
            cpu0 = gw.cpu_seconds()
            run = asyncio.run(loadgen.fixed_rate(url, [BODY] * (rate * seconds), rate=rate, seconds=seconds))
            cpu = gw.cpu_seconds() - cpu0
            out["fixed_rate"][str(rate)] = {"requests": len(run.samples), "non_200": len(run.samples) - len(run.ok),
                                            "gateway_cpu_us_per_request": round(cpu / max(1, len(run.ok)) * 1e6),
                                            "gateway_cpu_ms_per_second": round(cpu / seconds * 1000, 1)}
        if wrk.available():
            cpu0 = gw.cpu_seconds()
            result = wrk.run(url, [BODY], seconds=seconds, connections=16, name="floor")
            out["saturation"] = wrk_summary(result, gw.cpu_seconds() - cpu0)
    return out


def markdown(result: dict[str, Any], stamp: dict[str, Any]) -> str:
    lines = ["# The per-request floor: `{ __typename }`", "",
             f"Command: `.venv/bin/python -m bench.floor`; git {stamp['git']}, {stamp['when']}; "
             f"{stamp['cores']} cores, {stamp['cpu']}.", "",
             "| load | gateway CPU per request | gateway CPU per second |", "|---|---|---|"]
    for rate, row in result["fixed_rate"].items():
        lines.append(f"| {rate} requests/s (open loop) | {row['gateway_cpu_us_per_request']} us | "
                     f"{row['gateway_cpu_ms_per_second']} ms |")
    sat = result.get("saturation")
    if sat:
        lines.append(f"| saturation (wrk, 16 connections): {sat['throughput_rps']} requests/s | "
                     f"{sat.get('gateway_cpu_us_per_request')} us | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from bench.common import RESULTS, machine

    with env.sandbox() as box:
        result = per_request_floor(box)
    stamp = machine()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "floor.json").write_text(orjson.dumps(
        {"command": ".venv/bin/python -m bench.floor", "machine": stamp, **result},
        option=orjson.OPT_INDENT_2).decode() + "\n")
    text = markdown(result, stamp)
    (RESULTS / "floor.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
