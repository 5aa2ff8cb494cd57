"""Where telemetry goes: OpenTelemetry SDK setup from the standard `OTEL_*` variables, /metrics, logs.

- Traces: exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is
  set, or to the console with `OTEL_TRACES_EXPORTER=console`; otherwise off. The sampler follows
  `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`; `OTEL_SERVICE_NAME` names the service.
- Metrics: always served on /metrics in Prometheus text; also exported over OTLP when an endpoint is set.
- Logs: one JSON object per line on stdout (`bezel serve`, `bezel worker`), or human-readable
  (`bezel dev`), each with the trace and span ids of what it is about.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from pythonjsonlogger.json import JsonFormatter

from connectors.telemetry import current_span, refresh_tracing
from gateway.settings import OtelEnvironment, log_environment

log = logging.getLogger("bezel.telemetry")


@dataclass
class Telemetry:
    tracing: bool
    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider

    def shutdown(self) -> None:
        """Flush what is buffered (spans, a last metrics export) before the process exits."""
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


# OpenTelemetry's providers are the process's (set once, then global in its API): installed once.
_installed: Telemetry | None = None


def setup(default_service_name: str = "bezel-gateway") -> Telemetry:
    """Install the SDK once per process (later calls return the first setup)."""
    global _installed
    if _installed is not None:
        refresh_tracing()
        return _installed
    otel = OtelEnvironment.read()
    disabled = otel.sdk_disabled
    resource = Resource.create({"service.name": otel.service_name or default_service_name})

    tracer_provider = None
    exporter_choice = otel.traces_exporter
    if not disabled and exporter_choice != "none":
        exporter: SpanExporter | None = None
        if exporter_choice == "console":
            exporter = ConsoleSpanExporter()
        elif otel.traces_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        if exporter is not None:
            tracer_provider = TracerProvider(resource=resource, sampler=sampler_of(otel))
            tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
            trace.set_tracer_provider(tracer_provider)
    refresh_tracing()

    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    readers: list[MetricReader] = [PrometheusMetricReader()]
    if not disabled and otel.metrics_exporter == "otlp" and otel.metrics_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(meter_provider)
    _installed = Telemetry(tracing=tracer_provider is not None, tracer_provider=tracer_provider,
                           meter_provider=meter_provider)
    log.info("telemetry: tracing %s, metrics on /metrics%s", "on" if _installed.tracing else "off",
             " and OTLP" if len(readers) > 1 else "")
    return _installed


def sampler_of(otel: OtelEnvironment) -> Sampler:
    """`OTEL_TRACES_SAMPLER` / `_ARG` as the SDK reads them, except that a remote parent marked "not
    sampled" is decided as a new trace would be (`gateway.edge.clients.SamplingGuard` marks so the
    traceparents of callers that are not trusted proxies: their trace id continues, their choice does not)."""
    name, ratio = otel.sampler, otel.sampler_arg
    roots: dict[str, Sampler] = {"always_on": ALWAYS_ON, "always_off": ALWAYS_OFF,
                                 "traceidratio": TraceIdRatioBased(ratio)}
    root = roots.get(name.removeprefix("parentbased_"), ALWAYS_ON)
    if not name.startswith("parentbased_"):
        return root
    return ParentBased(root=root, remote_parent_not_sampled=root)


def tracing_enabled() -> bool:
    return _installed is not None and _installed.tracing


# ---------------------------------------------------------------- logs


class _TraceIds(logging.Filter):
    """Adds the current trace and span ids (hex, as Jaeger shows them) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-colored copy of the message
        context = current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


class _Text(logging.Formatter):
    """Human-readable, for `bezel dev`: the message, then any structured fields as key=value."""

    _STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in self._STANDARD and not k.startswith("_")}
        if extras:
            line += "  " + " ".join(f"{k}={v}" for k, v in extras.items() if k not in {"color_message"})
        return line


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """JSON lines (default) or text (`fmt="text"`); `BEZEL_LOG_FORMAT` / `BEZEL_LOG_LEVEL` override."""
    env_format, env_level = log_environment()
    fmt = env_format or fmt or "json"
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_TraceIds())
    if fmt == "text":
        handler.setFormatter(_Text("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter("{asctime}{levelname}{name}{message}", style="{",
                                           rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
                                           json_ensure_ascii=False))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(env_level or level or "INFO")
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
