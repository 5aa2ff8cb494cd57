"""Where telemetry goes: OpenTelemetry SDK setup from the standard `OTEL_*` variables, /metrics, logs.

Each signal is decided on its own (`gateway.settings.OtelEnvironment` reads the variables):
- Traces: over OTLP/HTTP to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (as is) or `OTEL_EXPORTER_OTLP_ENDPOINT`
  (+ `/v1/traces`), and/or to the console (`OTEL_TRACES_EXPORTER=otlp,console`); no endpoint, `none` or
  `OTEL_SDK_DISABLED=true`: off. The sampler follows `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
- Metrics: always served on /metrics in Prometheus text; also pushed over OTLP to
  `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` or the base endpoint (+ `/v1/metrics`), never to an endpoint set
  for traces alone, and/or to the console (`OTEL_METRICS_EXPORTER`; `none`: /metrics alone).
- The resource: `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else the command's
  own name (`bezel-gateway`, `bezel-worker`, ...); each process has its own `service.instance.id`.
- Logs: one JSON object per line on stdout (`bezel serve`, `bezel worker`), or human-readable
  (`bezel dev`), each with the trace and span ids of what it is about.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from pythonjsonlogger.json import JsonFormatter

from connectors.telemetry import current_span, refresh_tracing
from gateway.settings import OTLP_PROTOCOL, OtelEnvironment, log_environment

log = logging.getLogger("bezel.telemetry")


@dataclass
class Telemetry:
    tracing: bool
    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider
    traces_to: tuple[str, ...] = ()  # e.g. ("otlp http://collector:4318/v1/traces",); () when tracing is off
    metrics_to: tuple[str, ...] = ("/metrics",)

    def shutdown(self) -> None:
        """Flush what is buffered (spans, a last metrics export) before the process exits."""
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


# OpenTelemetry's providers are the process's (set once, then global in its API): installed once.
_installed: Telemetry | None = None
_SAMPLERS = ("always_on", "always_off", "traceidratio")


def setup(default_service_name: str = "bezel-gateway") -> Telemetry:
    """Install the SDK once per process (later calls return the first setup)."""
    global _installed
    if _installed is not None:
        refresh_tracing()
        return _installed
    otel = OtelEnvironment.read()
    _warn_about(otel)
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, a service.instance.id
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))

    tracer_provider = None
    traces_to: list[str] = []
    for name in otel.traces_to:
        if tracer_provider is None:
            tracer_provider = TracerProvider(resource=resource, sampler=sampler_of(otel))
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            assert otel.traces_endpoint is not None
            exporter: SpanExporter = OTLPSpanExporter(endpoint=otel.traces_endpoint)
            traces_to.append(f"otlp {_shown(otel.traces_endpoint)}")
        else:
            exporter = ConsoleSpanExporter()
            traces_to.append("console")
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    if tracer_provider is not None:
        trace.set_tracer_provider(tracer_provider)
    refresh_tracing()

    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    readers: list[MetricReader] = [PrometheusMetricReader()]
    metrics_to = ["/metrics"]
    for name in otel.metrics_to:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            assert otel.metrics_endpoint is not None
            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=otel.metrics_endpoint)))
            metrics_to.append(f"otlp {_shown(otel.metrics_endpoint)}")
        else:
            readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
            metrics_to.append("console")
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(meter_provider)
    _installed = Telemetry(tracing=tracer_provider is not None, tracer_provider=tracer_provider,
                           meter_provider=meter_provider, traces_to=tuple(traces_to), metrics_to=tuple(metrics_to))
    log.info("telemetry: traces to %s; metrics on %s", ", ".join(traces_to) or "nowhere (tracing off)",
             ", ".join(metrics_to))
    return _installed


def _warn_about(otel: OtelEnvironment) -> None:
    """Say so once, at start, when a variable asks for what Bezel does not do (it is otherwise ignored)."""
    for variable, names, known in (("OTEL_TRACES_EXPORTER", otel.traces_exporters, {"otlp", "console", "none"}),
                                   ("OTEL_METRICS_EXPORTER", otel.metrics_exporters,
                                    {"otlp", "console", "prometheus", "none"})):
        unknown = [n for n in names if n not in known]
        if unknown:
            log.warning("%s=%s: %s not supported here (%s), ignored", variable, ",".join(names), ", ".join(unknown),
                        ", ".join(sorted(known)))
        if "none" in names and len(names) > 1:
            log.warning("%s=%s: none with other exporters means none", variable, ",".join(names))
    for variable, protocol, wanted in (("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", otel.traces_protocol, otel.traces_to),
                                       ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", otel.metrics_protocol,
                                        otel.metrics_to)):
        if protocol != OTLP_PROTOCOL and "otlp" in wanted:
            log.warning("%s (or OTEL_EXPORTER_OTLP_PROTOCOL) is %s: Bezel exports OTLP over HTTP (%s) only; point "
                        "the endpoint at the collector's OTLP/HTTP port (4318 by default)", variable, protocol,
                        OTLP_PROTOCOL)
    if otel.sampler.removeprefix("parentbased_") not in _SAMPLERS:
        log.warning("OTEL_TRACES_SAMPLER=%s not supported here (%s, each also parentbased_): always_on instead",
                    otel.sampler, ", ".join(_SAMPLERS))


def _shown(url: str) -> str:
    """An endpoint for the log: without credentials, should its URL carry any."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


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
