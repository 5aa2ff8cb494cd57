"""The GraphQL operation as a span, and its latency as a metric; fields are not traced one by one.

strawberry's stock OpenTelemetryExtension makes every field a traced coroutine: on a 200-variant
page that is thousands of spans and milliseconds of overhead (measured in bench/). Bezel traces the
operation here and every vendor call in the call policy, which is where the time goes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from opentelemetry.trace import StatusCode
from strawberry.extensions import SchemaExtension

from connectors.telemetry import meter
from connectors.telemetry import span as span_for
from resolvers.context import RequestContext

GRAPHQL_DURATION = meter.create_histogram(
    "bezel.graphql.request.duration", unit="s",
    description="GraphQL operation latency by operation name and type.",
    explicit_bucket_boundaries_advisory=[0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.25, 2.0,
                                         5.0, 10.0],
)


def operation_label(name: str | None, allowed: frozenset[str]) -> str:
    """A bounded label for the metric: an allowed name, "anonymous", or "other"."""
    if not name:
        return "anonymous"
    return name if name in allowed else "other"


class OperationTelemetry(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        with span_for("graphql") as span:
            yield
            context = self.execution_context
            name = context.operation_name
            try:
                kind = context.operation_type.value
            except RuntimeError:  # the document did not parse: no operation to speak of
                kind = "unknown"
            label = operation_label(name, getattr(context.schema, "operation_labels", frozenset()))
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
