"""Past capacity: new shoppers arriving at 150% of what one process can answer, with the in-flight
limit fixed (256, the old behaviour) and adaptive (following the event loop's lag, as shipped).

Capacity is measured first in the same run (wrk, closed loop, the same shoppers). Then each gateway
gets the same open-loop arrivals for the same time: what matters is that what is shed is shed at
once (503 OVERLOADED, a load balancer retries it elsewhere) and that what is taken on keeps the
latency it has at a comfortable load, rather than every request waiting behind every other.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bench import env, loadgen, wrk
from bench.common import percentiles
from bench.pages import STANDARD
from bench.summaries import shopper_mix

CASES = {"fixed_256": {"BEZEL_GATEWAY__ADAPTIVE_IN_FLIGHT": "false"}, "adaptive": {}}


def past_capacity(box: env.Sandbox, *, seconds: float, factor: float = 1.5) -> dict[str, Any]:
    bodies = shopper_mix(STANDARD, 20_000)  # every arrival a new shopper, in every run
    box.reset()
    with env.gateway(box) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, bodies[-300:], rate=20, seconds=5))
        sat = wrk.run(url, bodies, seconds=int(max(5, seconds / 2)), connections=64, name="capacity")
    capacity = sat.rps * (sat.requests - sat.non_2xx) / max(1, sat.requests)  # pages answered per second
    rate = round(capacity * factor)
    out: dict[str, Any] = {"capacity_rps": capacity, "factor": factor, "rate_rps": rate, "seconds": seconds}
    for name, extra in CASES.items():
        box.reset()
        with env.gateway(box, **extra) as gw:
            url = f"{gw.url}/graphql"
            asyncio.run(loadgen.fixed_rate(url, bodies[-300:], rate=20, seconds=5))
            calm = asyncio.run(loadgen.fixed_rate(url, bodies[:5_000], rate=capacity / 2, seconds=seconds / 2))
            run = asyncio.run(loadgen.fixed_rate(url, bodies[5_000:], rate=rate, seconds=seconds))
        out[name] = {"at_half_capacity": _summary(calm), "past_capacity": _summary(run)}
    return out


def _summary(run: loadgen.Run) -> dict[str, Any]:
    answered = run.ok
    shed = [s for s in run.samples if s.status == 503]
    return {
        "requests": len(run.samples),
        "statuses": dict(Counter(s.status for s in run.samples)),
        "answered_rps": round(len(answered) / run.seconds, 1),
        "answered_latency_ms": percentiles([s.latency_ms for s in answered]) if answered else None,
        "answered_missing_a_vendor": sum(1 for s in answered if s.error_codes),
        "errors_by_code": dict(Counter(code for s in answered for code in s.error_codes)),
        "shed_latency_ms": percentiles([s.latency_ms for s in shed]) if shed else None,
        "generator_cpu": round(run.cpu, 3),
    }
