"""A real OTLP/HTTP receiver for tests: decodes the protobuf payloads the SDK exports.

    with run_receiver() as receiver:                       # /v1/traces and /v1/metrics
    with run_receiver(accept=("traces",)) as jaeger:       # a traces-only backend: /v1/metrics is a 405

Every request is kept (`requests`: path, status, headers, the services it came from), so a test can also
say what was never sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from sandbox.handle import free_port

SPAN_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


@dataclass(frozen=True)
class Span:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    attributes: dict[str, Any]
    events: tuple[tuple[str, dict[str, Any]], ...]
    status: int  # 0 unset, 1 ok, 2 error


@dataclass(frozen=True)
class Received:
    """One POST the receiver answered."""

    path: str
    status: int
    headers: dict[str, str]  # lower-cased names
    services: tuple[str, ...]  # service.name of each resource in the payload (empty if it was not decoded)


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def _attrs(items: Any) -> dict[str, Any]:
    return {a.key: _value(a.value) for a in items}


@dataclass
class Receiver:
    url: str
    spans: list[Span] = field(default_factory=list)
    metric_names: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Received] = field(default_factory=list)

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]

    def wait_until(self, predicate: Callable[[Receiver], bool], what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s; received {self.paths()}")
            time.sleep(0.05)

    def take_traces(self, body: bytes) -> tuple[str, ...]:
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            service = _attrs(resource_spans.resource.attributes).get("service.name", "")
            for scope in resource_spans.scope_spans:
                for s in scope.spans:
                    found.append(Span(
                        service=service, trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                        parent_id=s.parent_span_id.hex(), name=s.name, kind=SPAN_KINDS.get(s.kind, str(s.kind)),
                        attributes=_attrs(s.attributes),
                        events=tuple((e.name, _attrs(e.attributes)) for e in s.events), status=s.status.code,
                    ))
        with self.lock:
            self.spans.extend(found)
        return _services(rs.resource for rs in request.resource_spans)

    def take_metrics(self, body: bytes) -> tuple[str, ...]:
        request = metrics_service_pb2.ExportMetricsServiceRequest()
        request.ParseFromString(body)
        names = {m.name for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
        with self.lock:
            self.metric_names |= names
        return _services(rm.resource for rm in request.resource_metrics)

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> list[Span]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"spans never matched; got {sorted({s.name for s in spans})}")
            time.sleep(0.1)


def _services(resources: Iterable[Any]) -> tuple[str, ...]:
    return tuple(str(_attrs(r.attributes).get("service.name", "")) for r in resources)


@contextmanager
def run_receiver(accept: tuple[str, ...] = ("traces", "metrics")) -> Iterator[Receiver]:
    """An OTLP/HTTP receiver on a free port; a signal it does not `accept` is answered 405, as a backend that
    takes traces alone (Jaeger, Tempo) answers metrics."""
    port = free_port()
    receiver = Receiver(url=f"http://127.0.0.1:{port}")
    takers: dict[str, tuple[Callable[[bytes], tuple[str, ...]], Callable[[], Any]]] = {
        "/v1/traces": (receiver.take_traces, trace_service_pb2.ExportTraceServiceResponse),
        "/v1/metrics": (receiver.take_metrics, metrics_service_pb2.ExportMetricsServiceResponse)}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            taker = takers.get(self.path)
            status, reply = 404, b""
            services: tuple[str, ...] = ()
            if taker is not None and self.path.removeprefix("/v1/") not in accept:
                status = 405
            elif taker is not None:
                take, response = taker
                status, services, reply = 200, take(body), response().SerializeToString()
            with receiver.lock:
                receiver.requests.append(Received(path=self.path, status=status, services=services,
                                                  headers={k.lower(): v for k, v in self.headers.items()}))
            self.send_response(status)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
