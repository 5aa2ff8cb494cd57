"""Tracing off, on, and sampled, under saturation: what exporting spans costs a gateway process."""

from __future__ import annotations

import statistics
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench import env, loadgen, wrk
from bench.pages import STANDARD, page_body
from bench.summaries import wrk_summary


@contextmanager
def _otlp_sink() -> Iterator[str]:
    """Accepts OTLP/HTTP exports and drops them: tracing's cost without a collector's."""

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    port = env.free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def tracing_on_off(box: env.Sandbox, *, seconds: int, rounds: int = 2) -> dict[str, Any]:
    """Scenario 7: the same warm page at saturation with tracing off, on for every request, and on for
    one request in ten (the sampler we recommend in production); modes alternate to cancel drift."""
    box.reset()
    box.stock_all(STANDARD, 10)
    body = page_body(STANDARD)
    results: dict[str, list[dict[str, Any]]] = {"off": [], "on": [], "sampled_10pct": []}
    with _otlp_sink() as sink:
        modes = {"off": {}, "on": {"OTEL_EXPORTER_OTLP_ENDPOINT": sink, "OTEL_BSP_SCHEDULE_DELAY": "500"},
                 "sampled_10pct": {"OTEL_EXPORTER_OTLP_ENDPOINT": sink, "OTEL_BSP_SCHEDULE_DELAY": "500",
                                   "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                   "OTEL_TRACES_SAMPLER_ARG": "0.1"}}
        for _ in range(rounds):
            for mode, extra in modes.items():
                with env.gateway(box, **extra) as gw:
                    url = f"{gw.url}/graphql"
                    loadgen.warm(url, body)
                    cpu0 = gw.cpu_seconds()
                    result = wrk.run(url, [body], seconds=seconds, connections=16, name=f"tracing-{mode}")
                    results[mode].append(wrk_summary(result, gw.cpu_seconds() - cpu0))
    summary = {mode: {"throughput_rps": statistics.median(r["throughput_rps"] for r in runs),
                      "gateway_cpu_us_per_request": statistics.median(r["gateway_cpu_us_per_request"] for r in runs),
                      "p50_ms": statistics.median(r["latency_ms"]["p50"] for r in runs),
                      "p99_ms": statistics.median(r["latency_ms"]["p99"] for r in runs), "runs": runs}
               for mode, runs in results.items()}
    off = summary["off"]["gateway_cpu_us_per_request"]
    summary["cost_us_per_request"] = round(summary["on"]["gateway_cpu_us_per_request"] - off, 1)
    summary["sampled_cost_us_per_request"] = round(summary["sampled_10pct"]["gateway_cpu_us_per_request"] - off, 1)
    return summary
