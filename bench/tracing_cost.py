"""What tracing costs per product page, and why Bezel does not trace every field.

Three configurations, each in its own process (a tracer provider is per process):
  off              no tracing SDK (the default without OTEL_EXPORTER_OTLP_ENDPOINT)
  bezel            tracing on: server, operation, vendor-call and attempt spans (how Bezel ships)
  per-field        the same plus strawberry's stock OpenTelemetryExtension (a span per resolved field)

The gateway runs in-process with vendors answered by the sandbox app in-process at zero latency
(so only gateway CPU is measured), every answer warm in cache, spans batched to an exporter that
drops them. Reported: milliseconds per request (median, p95) and spans per request.

    .venv/bin/python -m bench.tracing_cost            # writes bench/results/tracing_cost.{json,md}
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

CONFIGS = ("off", "bezel", "per-field")
PAGES = {"aurelia-solitaire-ring (176 variants)": "aurelia-solitaire-ring",
         "lumiere-sapphire-pendant (30 variants)": "lumiere-sapphire-pendant"}
WARMUP, RUNS = 30, 300


async def _measure(config: str) -> dict[str, Any]:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Counting(SpanExporter):
        exported = 0

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            Counting.exported += len(spans)
            return SpanExportResult.SUCCESS

    if config != "off":
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Counting(), max_queue_size=100_000,
                                                       max_export_batch_size=2048))
        trace.set_tracer_provider(provider)
        from gateway import telemetry

        telemetry._installed = None
        telemetry.setup()
        telemetry._installed.tracing = True  # the provider above stands in for the OTLP one
    if config == "per-field":
        from strawberry.extensions.tracing import OpenTelemetryExtension

        import schema.root as root

        original = root.BezelSchema.__init__

        def with_field_spans(self: Any, *args: Any, **kwargs: Any) -> None:
            kwargs["extensions"] = [*kwargs["extensions"], OpenTelemetryExtension]
            original(self, *args, **kwargs)

        root.BezelSchema.__init__ = with_field_spans  # type: ignore[method-assign]

    from bench.inprocess import check, warm_gateway
    from bench.pages import page_body

    results: dict[str, Any] = {}
    async with warm_gateway() as client:
        for label, handle in PAGES.items():
            body = page_body(handle)
            for _ in range(WARMUP):
                await check(client, body)
            before = Counting.exported
            samples = []
            for _ in range(RUNS):
                started = time.perf_counter()
                await client.post("/graphql", content=body, headers={"content-type": "application/json"})
                samples.append((time.perf_counter() - started) * 1000)
            if config != "off":
                from opentelemetry import trace

                trace.get_tracer_provider().force_flush()
            results[label] = {"ms": samples, "spans_per_request": (Counting.exported - before) / RUNS}
    return results


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        print(json.dumps(asyncio.run(_measure(sys.argv[2]))))
        return
    from bench.common import machine, percentiles, write

    runs: dict[str, Any] = {}
    for config in CONFIGS:
        out = subprocess.run([sys.executable, "-m", "bench.tracing_cost", "--one", config], capture_output=True,
                             text=True, check=True, env={**os.environ, "BEZEL_LOG_LEVEL": "WARNING"})
        runs[config] = json.loads(out.stdout.strip().splitlines()[-1])
    summary = {config: {page: {**percentiles(data["ms"]), "spans_per_request": data["spans_per_request"]}
                        for page, data in pages.items()} for config, pages in runs.items()}
    rows = ["| page | tracing | median ms | p95 ms | spans / request | median cost vs off |",
            "|---|---|---|---|---|---|"]
    for page in PAGES:
        base = summary["off"][page]["median"]
        for config in CONFIGS:
            s = summary[config][page]
            rows.append(f"| {page} | {config} | {s['median']:.2f} | {s['p95']:.2f} | {s['spans_per_request']:.0f} | "
                        f"{s['median'] - base:+.2f} ms |")
    doc = {"title": "Tracing cost per product page (warm cache, in-process vendors)",
           "command": ".venv/bin/python -m bench.tracing_cost", "machine": machine(), "runs": RUNS,
           "summary": summary}
    write("tracing_cost", doc, "\n".join(rows))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
