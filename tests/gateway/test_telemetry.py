"""Where telemetry goes, signal by signal, as the standard `OTEL_*` variables say, against real OTLP/HTTP
receivers (`tests.otlp`): traces and metrics to two endpoints, traces alone to a traces-only backend (which
answers metrics 405), metrics alone, the SDK disabled, headers and the resource, the console.

OpenTelemetry's providers belong to the process, so each case is its own process: the real `setup()` in a
subprocess that makes one span and one counter and shuts down (which flushes both: anything set up to
export has exported by then, so "nothing arrived" means nothing was set up to send), and `bezel serve` and
`bezel worker` themselves for the processes that ship (the supervisor's worker, the order worker).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sandbox.handle import free_port, wait_for
from tests.otlp import Receiver, run_receiver
from tests.support import ROOT, run_switches

PROBE = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from gateway import telemetry
installed = telemetry.setup("bezel-probe")
from connectors.telemetry import meter, tracer
meter.create_counter("bezel.probe.count").add(1)
with tracer.start_as_current_span("probe span"):
    pass
installed.shutdown()
print("PROBE " + json.dumps({"tracing": installed.tracing, "traces_to": getattr(installed, "traces_to", None),
                             "metrics_to": getattr(installed, "metrics_to", None)}))
"""

SPAN, COUNTER = "probe span", "bezel.probe.count"


@dataclass
class Probed:
    tracing: bool
    traces_to: list[str]
    metrics_to: list[str]
    stdout: str
    stderr: str


def clean_environment(**env: str) -> dict[str, str]:
    """The runner's environment without any OTEL_*, BEZEL_* or REDIS_URL of its own, plus `env`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "BEZEL_")) and k != "REDIS_URL"}
    return {**kept, **env}


def probe(**env: str) -> Probed:
    result = subprocess.run([sys.executable, "-c", PROBE], env=clean_environment(**env), cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    said = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("PROBE "))[6:])
    return Probed(said["tracing"], said["traces_to"], said["metrics_to"], result.stdout, result.stderr)


def only(receiver: Receiver, path: str) -> None:
    """Everything the receiver got was `path`, answered 200, and there was some."""
    assert receiver.paths(), "nothing was sent"
    assert {(r.path, r.status) for r in receiver.requests} == {(path, 200)}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with run_receiver() as r:
        yield r


@pytest.fixture
def other() -> Iterator[Receiver]:
    with run_receiver() as r:
        yield r


@pytest.fixture
def jaeger() -> Iterator[Receiver]:
    """A traces-only backend: /v1/metrics is answered 405."""
    with run_receiver(accept=("traces",)) as r:
        yield r


# --- the real setup(), one process per case ---------------------------------------------------------------------


def test_traces_and_metrics_go_each_to_their_own_endpoint(receiver: Receiver, other: Receiver) -> None:
    probed = probe(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.url}/v1/traces",
                   OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=f"{other.url}/v1/metrics")
    only(receiver, "/v1/traces")
    only(other, "/v1/metrics")
    assert SPAN in {s.name for s in receiver.spans}
    assert COUNTER in other.metric_names
    assert probed.traces_to == [f"otlp {receiver.url}/v1/traces"]
    assert probed.metrics_to == ["/metrics", f"otlp {other.url}/v1/metrics"]
    assert {s for r in receiver.requests + other.requests for s in r.services} == {"bezel-probe"}


@pytest.mark.parametrize("metrics_exporter", ["none", "None ", None])
def test_a_traces_only_backend_as_the_base_endpoint_gets_no_metrics_with_metrics_exporter_none(
    jaeger: Receiver, metrics_exporter: str | None
) -> None:
    """The report: `OTEL_EXPORTER_OTLP_ENDPOINT` at Jaeger, metrics failing with a 405 every interval, and
    `OTEL_METRICS_EXPORTER=none` ignored (Bezel decided on the endpoint alone). Unset, the 405s are what
    the operator sees; `none` sends nothing but traces."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.url}
    if metrics_exporter is not None:
        env["OTEL_METRICS_EXPORTER"] = metrics_exporter
    probed = probe(**env)
    assert SPAN in {s.name for s in jaeger.spans}
    if metrics_exporter is None:  # the symptom, as the operator saw it
        assert ("/v1/metrics", 405) in {(r.path, r.status) for r in jaeger.requests}
        assert "Failed to export metrics" in probed.stderr
        return
    only(jaeger, "/v1/traces")
    assert probed.metrics_to == ["/metrics"]
    assert "Failed to export" not in probed.stderr


def test_an_endpoint_for_traces_alone_sends_no_metrics_anywhere(jaeger: Receiver) -> None:
    """`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` alone: traces go there, metrics stay on /metrics (the exporter's
    own default, localhost:4318, is never tried)."""
    probed = probe(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{jaeger.url}/v1/traces")
    only(jaeger, "/v1/traces")
    assert probed.tracing
    assert probed.metrics_to == ["/metrics"]
    assert "Failed to export" not in probed.stderr


def test_metrics_alone_with_traces_exporter_none(receiver: Receiver) -> None:
    probed = probe(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_TRACES_EXPORTER="none")
    only(receiver, "/v1/metrics")
    assert COUNTER in receiver.metric_names
    assert not probed.tracing
    assert probed.traces_to == []


def test_metrics_alone_with_an_endpoint_for_metrics_alone(receiver: Receiver) -> None:
    probed = probe(OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=f"{receiver.url}/v1/metrics")
    only(receiver, "/v1/metrics")
    assert not probed.tracing


def test_sdk_disabled_sends_nothing_and_still_serves_metrics(receiver: Receiver) -> None:
    probed = probe(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_SDK_DISABLED="true",
                   OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="console")
    assert receiver.paths() == []
    assert (probed.tracing, probed.traces_to, probed.metrics_to) == (False, [], ["/metrics"])
    assert SPAN not in probed.stdout


@pytest.mark.parametrize(("env", "service"), [
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes,deployment.environment=staging"}, "from-attributes"),
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes", "OTEL_SERVICE_NAME": "named"}, "named"),
    ({}, "bezel-probe"),
])
def test_the_base_endpoint_takes_both_with_the_headers_and_the_resource(
    receiver: Receiver, env: dict[str, str], service: str
) -> None:
    probe(OTEL_EXPORTER_OTLP_ENDPOINT=f"{receiver.url}/", OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20t0ken",
          **env)
    assert sorted(set(receiver.paths())) == ["/v1/metrics", "/v1/traces"]  # the base's slash not doubled
    assert {r.headers.get("authorization") for r in receiver.requests} == {"Bearer t0ken"}
    assert {s for r in receiver.requests for s in r.services} == {service}


def test_the_console_and_otlp_at_once(receiver: Receiver) -> None:
    probed = probe(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_TRACES_EXPORTER="otlp, console",
                   OTEL_METRICS_EXPORTER="console")
    only(receiver, "/v1/traces")
    assert f'"name": "{SPAN}"' in probed.stdout
    assert COUNTER in probed.stdout
    assert probed.traces_to == [f"otlp {receiver.url}/v1/traces", "console"]
    assert probed.metrics_to == ["/metrics", "console"]


def test_what_bezel_does_not_do_is_said_at_start(receiver: Receiver) -> None:
    probed = probe(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_TRACES_EXPORTER="zipkin",
                   OTEL_METRICS_EXPORTER="otlp,none", OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
                   OTEL_TRACES_SAMPLER="jaeger_remote")
    assert "OTEL_TRACES_EXPORTER=zipkin: zipkin not supported" in probed.stderr
    assert "OTEL_METRICS_EXPORTER=otlp,none: none with other exporters means none" in probed.stderr
    assert "OTEL_TRACES_SAMPLER=jaeger_remote not supported" in probed.stderr
    assert receiver.paths() == []  # zipkin is no exporter here, and none is none


def test_grpc_is_said_to_be_unsupported(receiver: Receiver) -> None:
    probed = probe(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    assert "Bezel exports OTLP over HTTP (http/protobuf) only" in probed.stderr


# --- the processes that ship: `bezel serve` (a supervisor and its worker), `bezel worker` ------------------------


@contextmanager
def bezel(tmp_path: Path, *args: str, **env: str) -> Iterator[tuple[str, Path]]:
    """`bezel <args> --port/--metrics-port N` from a clean environment; stopped with SIGTERM on the way out,
    which flushes what it was set up to export."""
    port = free_port()
    flag = "--metrics-port" if args[0] == "worker" else "--port"
    log = tmp_path / f"{args[0]}.log"
    environment = clean_environment(BEZEL_ENV="test", BEZEL_ADMIN__PORT="0", BEZEL_STOREFRONT__ENABLED="false",
                                    OTEL_METRIC_EXPORT_INTERVAL="200", OTEL_BSP_SCHEDULE_DELAY="100",
                                    **run_switches(), **env)
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "gateway.cli", *args, flag, str(port)], env=environment,
                                   cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", timeout=30)
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]


def test_bezel_serve_sends_traces_and_metrics_to_two_receivers(
    receiver: Receiver, other: Receiver, tmp_path: Path
) -> None:
    with bezel(tmp_path, "serve", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.url}/v1/traces",
               OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=f"{other.url}/v1/metrics") as (url, _):
        answer = httpx.post(f"{url}/graphql", json={"query": "query Probe { __typename }"}, timeout=10)
        assert answer.json()["data"] == {"__typename": "Query"}
        receiver.wait_until(lambda r: any(s.kind == "SERVER" for s in r.spans), "the server span")
        other.wait_until(lambda r: "bezel.graphql.request.duration" in r.metric_names, "the operation's latency")
    only(receiver, "/v1/traces")
    only(other, "/v1/metrics")
    assert {s.service for s in receiver.spans} == {"bezel-gateway"}


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_bezel_serve_and_worker_send_a_traces_only_backend_no_metrics_with_metrics_exporter_none(
    jaeger: Receiver, tmp_path: Path, command: str, request: pytest.FixtureRequest
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.url, "OTEL_METRICS_EXPORTER": "none"}
    if command == "worker":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")  # the order stream it reads
    with bezel(tmp_path, command, **env) as (url, log):
        if command == "serve":
            httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}, timeout=10)
            jaeger.wait_until(lambda r: any(s.kind == "SERVER" for s in r.spans), "the server span")
        time.sleep(1.0)  # five export intervals
    assert "/v1/metrics" not in jaeger.paths()
    said = log.read_text()
    assert 'metrics on /metrics"' in said  # the telemetry line: /metrics alone
    assert "Failed to export" not in said
