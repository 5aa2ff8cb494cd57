"""The GraphQL operation as a span, and its latency as a metric; fields are not traced one by one.

strawberry's stock OpenTelemetryExtension makes every field a traced coroutine: on a 200-variant
page that is thousands of spans and milliseconds of overhead (measured in bench/). Bezel traces the
operation here and every vendor call in the call policy, which is where the time goes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from opentelemetry.trace import StatusCode
from strawberry.extensions import SchemaExtension

from connectors.telemetry import meter, tracer
from resolvers.context import RequestContext

GRAPHQL_DURATION = meter.create_histogram(
    "bezel.graphql.request.duration", unit="s",
    description="GraphQL operation latency by operation name and type.",
    explicit_bucket_boundaries_advisory=[0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.25, 2.0,
                                         5.0, 10.0],
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPERATION_NAMES = 200  # distinct names kept as metric labels; any more count as "other"
_seen: set[str] = set()


def operation_label(name: str | None) -> str:
    """A bounded label for the metric: client-chosen names must not explode cardinality."""
    if not name:
        return "anonymous"
    if not _NAME.match(name):
        return "other"
    if name not in _seen:
        if len(_seen) >= MAX_OPERATION_NAMES:
            return "other"
        _seen.add(name)
    return name


class OperationTelemetry(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        with tracer.start_as_current_span("graphql") as span:
            yield
            context = self.execution_context
            name = context.operation_name
            try:
                kind = context.operation_type.value
            except RuntimeError:  # the document did not parse: no operation to speak of
                kind = "unknown"
            label = operation_label(name)
            if span.is_recording():
                span.update_name(f"{kind} {name or 'anonymous'}")
                span.set_attributes({"graphql.operation.name": name or "", "graphql.operation.type": kind})
                errors = getattr(context.result, "errors", None) or []
                if errors:
                    span.set_attribute("bezel.errors", len(errors))
                    codes = sorted({(e.extensions or {}).get("code", "") for e in errors})
                    span.set_attribute("bezel.error_codes", [c for c in codes if c])
                if context.pre_execution_errors and not context.result:
                    span.set_status(StatusCode.ERROR)
            ctx = context.context
            if isinstance(ctx, RequestContext):
                ctx.operation = (name, kind)
            GRAPHQL_DURATION.record(time.perf_counter() - started, {"operation": label, "type": kind})
