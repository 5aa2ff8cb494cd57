"""What every scenario reports: the same numbers from an open-loop run or a wrk run."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench import loadgen, wrk
from bench.common import percentiles
from bench.pages import NY_ZIPS, page_body


def shopper_mix(handle: str, n: int = 4000, *, by_id: bool = False) -> list[bytes]:
    """Many shoppers on one product page: each a different address and engraving text, so tax,
    insurance and engraving are mostly asked live while the product itself comes from cache."""
    return [page_body(handle, NY_ZIPS[i % len(NY_ZIPS)], f"Love {i:05d}", by_id=by_id) for i in range(n)]


def summary(run: loadgen.Run) -> dict[str, Any]:
    ok = run.ok
    return {
        "requests": len(run.samples),
        "seconds": round(run.seconds, 2),
        "throughput_rps": round(len(run.samples) / run.seconds, 1),
        "non_200": len(run.samples) - len(ok),
        "with_errors": sum(1 for s in ok if s.error_codes),
        "errors_by_code": dict(Counter(code for s in ok for code in s.error_codes)),
        "latency_ms": percentiles([s.latency_ms for s in run.samples]),
        "overhead_ms": percentiles([s.overhead_ms for s in ok]) if ok else None,
        "gateway_overhead_ms": percentiles(inside) if (inside := [s.gateway_overhead_ms for s in ok
                                                                  if s.gateway_overhead_ms is not None]) else None,
        "vendor_critical_ms": percentiles([s.critical_vendor_ms for s in ok]) if ok else None,
        "generator_cpu": round(run.cpu, 3),
        "raw_latency_ms": [round(s.latency_ms, 2) for s in run.samples],
        "raw_overhead_ms": [round(s.overhead_ms, 2) for s in ok],
        "raw_gateway_overhead_ms": [round(s.gateway_overhead_ms, 2) for s in ok if s.gateway_overhead_ms is not None],
    }


def wrk_summary(result: wrk.WrkResult, cpu_seconds: float | None = None) -> dict[str, Any]:
    # Throughput and CPU are per page answered: past its capacity a process sheds with 503 OVERLOADED
    # (cheap, and not a page), which a closed-loop generator at 64 connections provokes by design.
    answered = result.requests - result.non_2xx
    out = {"requests": result.requests, "seconds": result.seconds,
           "throughput_rps": round(result.rps * answered / max(1, result.requests), 1), "sent_rps": result.rps,
           "latency_ms": {"p50": result.p50_ms, "p90": result.p90_ms, "p99": result.p99_ms},
           "non_2xx": result.non_2xx, "socket_errors": result.socket_errors}
    if cpu_seconds is not None and answered:
        out["gateway_cpu_us_per_request"] = round(cpu_seconds / answered * 1e6, 1)
    return out
