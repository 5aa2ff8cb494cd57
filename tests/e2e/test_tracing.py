"""A platform engineer asks "why was this page slow?": one trace per request, exported over real OTLP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from sandbox.handle import Sandbox, free_port, wait_for
from tests.otlp import Receiver, Span, run_receiver
from tests.support import PRODUCT_PAGE_QUERY, US_ADDRESS

PAGE_VENDORS = {"catalog", "inventory", "tax", "insurance", "bnpl", "engraving"}
VENDOR_ATTRIBUTES = {"bezel.vendor", "bezel.operation", "bezel.outcome", "bezel.cache.source", "bezel.cache.age_ms",
                     "bezel.breaker.state", "bezel.attempts", "bezel.hedged", "bezel.timeout_ms"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with run_receiver() as r:
        yield r


@contextmanager
def bezel(command: str, sandbox: Sandbox, receiver: Receiver, log: Path, **env: str) -> Iterator[str]:
    port = free_port()
    environment = {
        **os.environ, "BEZEL_SANDBOX__URL": sandbox.url, "BEZEL_ENV": "test",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "500", "OTEL_SERVICE_NAME": f"bezel-{command}", "BEZEL_ADMIN__PORT": "0",
        **env,
    }
    args = ["serve", "--port", str(port)] if command == "serve" else ["worker", "--metrics-port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "gateway.cli", *args], env=environment, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)


def by_trace(spans: list[Span], trace_id: str) -> list[Span]:
    return [s for s in spans if s.trace_id == trace_id]


def parent_of(spans: list[Span], span: Span) -> Span | None:
    return next((s for s in spans if s.span_id == span.parent_id), None)


def test_one_page_is_one_trace_with_every_vendor_call_and_its_fallback(
    sandbox: Sandbox, receiver: Receiver, tmp_path: Path
) -> None:
    env = {"BEZEL_VENDORS__TAX__CACHE_TTL_S": "0.2", "BEZEL_VENDORS__TAX__REVALIDATE_S": "0"}
    with bezel("serve", sandbox, receiver, tmp_path / "gateway.log", **env) as url:
        assert httpx.post(f"{url}/graphql", json={"query": PRODUCT_PAGE_QUERY}, timeout=10).status_code == 200
        time.sleep(0.3)
        sandbox.fault("tax", status=500)
        traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        response = httpx.post(f"{url}/graphql", json={"query": PRODUCT_PAGE_QUERY},
                              headers={"traceparent": traceparent}, timeout=10)
        assert response.json()["extensions"]["vendors"]["tax"]["outcome"] == "stale"
        trace_id = traceparent.split("-")[1]  # the caller's trace, continued
        spans = receiver.wait_for(lambda all_: any(s.trace_id == trace_id and s.name.startswith("attempt tax")
                                                   for s in all_) and any(s.trace_id == trace_id and s.kind == "SERVER"
                                                                          for s in all_))
    page = by_trace(spans, trace_id)
    server = next(s for s in page if s.kind == "SERVER")
    operation = next(s for s in page if s.name == "query ProductPage")
    assert operation.attributes["graphql.operation.name"] == "ProductPage"
    assert operation.attributes["graphql.operation.type"] == "query"
    assert parent_of(page, operation) == server
    vendor_spans = {s.attributes["bezel.vendor"]: s for s in page if s.name.startswith("vendor ")}
    assert set(vendor_spans) == PAGE_VENDORS
    for vendor, span in vendor_spans.items():
        assert set(span.attributes) >= VENDOR_ATTRIBUTES, (vendor, span.attributes)
        assert span.attributes["bezel.breaker.state"] == "closed"
    tax = vendor_spans["tax"]
    assert tax.attributes["bezel.outcome"] == "stale"
    assert tax.attributes["bezel.cache.source"] == "STALE"
    assert tax.attributes["bezel.cache.age_ms"] >= 200
    assert tax.attributes["bezel.attempts"] >= 1
    assert [name for name, _ in tax.events].count("fallback") == 1
    attempt = next(s for s in page if s.name == "attempt tax.quote")
    assert parent_of(page, attempt) == tax
    assert attempt.attributes["bezel.attempt"] == 1
    assert attempt.attributes["bezel.hedge"] is False
    client = next(s for s in page if s.kind == "CLIENT" and s.parent_id == attempt.span_id)
    assert client.attributes.get("http.response.status_code", client.attributes.get("http.status_code")) == 500
    assert vendor_spans["catalog"].attributes["bezel.outcome"] in {"cache", "live"}

    # The vendor saw the same trace (W3C traceparent propagated by the HTTP client).
    seen = sandbox.admin().get("/requests", params={"vendor": "tax"}).json()
    assert any(r["traceparent"] and r["traceparent"].split("-")[1] == trace_id for r in seen)

    # And the request's log line is one JSON object carrying the same trace id.
    lines = [json.loads(line) for line in (tmp_path / "gateway.log").read_text().splitlines()
             if line.startswith("{")]
    request_lines = [r for r in lines if r.get("logger") == "bezel.requests" and r.get("trace_id") == trace_id]
    assert len(request_lines) == 1
    line = request_lines[0]
    assert (line["operation"], line["operation_type"], line["status"]) == ("ProductPage", "query", 200)
    assert line["vendors"]["tax"] == "stale"
    assert line["duration_ms"] > 0


def test_a_checkout_trace_continues_into_the_workers_sync(
    sandbox: Sandbox, receiver: Receiver, redis_url: str, tmp_path: Path
) -> None:
    env = {"REDIS_URL": redis_url, "BEZEL_WORKER__BLOCK_MS": "200"}
    with bezel("serve", sandbox, receiver, tmp_path / "gateway.log", **env) as url, \
            bezel("worker", sandbox, receiver, tmp_path / "worker.log", **env):
        query = '{ product(handle: "gold-huggie-hoops") { variants { id sku } } }'
        hoops = httpx.post(f"{url}/graphql", json={"query": query}, timeout=10).json()["data"]["product"]["variants"][0]
        sandbox.set_stock(hoops["sku"], 5)
        mutation = """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id } userErrors { code } } }"""
        placed = httpx.post(f"{url}/graphql", timeout=10, json={"query": mutation, "variables": {"i": {
            "idempotencyKey": str(uuid.uuid4()), "lines": [{"variantId": hoops["id"]}], "shipTo": US_ADDRESS,
            "email": "ada@example.com", "paymentToken": "tok_visa"}}}).json()["data"]["placeOrder"]
        order_id = placed["order"]["id"]

        def synced(spans: list[Span]) -> bool:
            checkout = [s for s in spans if s.name == "checkout placeOrder"]
            return bool(checkout) and {"sync erp", "sync wms", "sync crm"} <= {
                s.name for s in spans if s.trace_id == checkout[0].trace_id}

        spans = receiver.wait_for(synced, timeout=20)
    checkout = next(s for s in spans if s.name == "checkout placeOrder")
    assert checkout.attributes["bezel.order.id"] == order_id
    assert checkout.attributes["bezel.checkout.outcome"] == "confirmed"
    trace = by_trace(spans, checkout.trace_id)
    confirm = next(s for s in trace if s.name == "checkout confirm")
    erp = next(s for s in trace if s.name == "sync erp")
    assert erp.service == "bezel-worker"
    assert checkout.service == "bezel-serve"
    assert erp.kind == "CONSUMER"
    assert erp.parent_id == confirm.span_id  # the stream entry carried the confirm span's context
    assert any(s.name == "vendor erp.sales_order" and s.parent_id == erp.span_id for s in trace)
    assert {"checkout reserve", "checkout authorize", "vendor payments.authorize"} <= {s.name for s in trace}


@pytest.mark.parametrize("trusted", [False, True])
def test_only_a_trusted_proxy_can_force_a_trace_to_be_recorded(
    sandbox: Sandbox, receiver: Receiver, tmp_path: Path, trusted: bool
) -> None:
    """A sampler that records nothing new: a caller's sampled `traceparent` is followed only from a
    trusted proxy (else anyone could make us record, and export, every request they send)."""
    env = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    if trusted:
        env["BEZEL_GATEWAY__TRUSTED_PROXIES"] = '["127.0.0.1/32"]'
    with bezel("serve", sandbox, receiver, tmp_path / "gateway.log", **env) as url:
        forced = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        for traceparent in (forced, None):
            headers = {"traceparent": traceparent} if traceparent else {}
            assert httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}, headers=headers,
                              timeout=10).status_code == 200
        # the marker: a trusted caller's trace, sent last, so everything before it has been exported
        marker = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        env_marker = {"traceparent": marker, "x-forwarded-for": "10.0.0.1"}
        httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}, headers=env_marker, timeout=10)
        if trusted:
            # its server span, which ends last of the trace's spans (and may leave in a later export)
            spans = receiver.wait_for(lambda s: any(x.trace_id == marker.split("-")[1] and x.kind == "SERVER"
                                                    for x in s))
        else:
            time.sleep(1.0)  # nothing to wait for: give the exporter its schedule delay several times over
            spans = list(receiver.spans)
    recorded = {s.trace_id for s in spans if s.kind == "SERVER"}
    assert (forced.split("-")[1] in recorded) is trusted
    assert len(recorded) == (2 if trusted else 0)  # the caller without a traceparent: never (ratio 0)


def test_a_deferred_page_shows_when_each_part_left(sandbox: Sandbox, receiver: Receiver, tmp_path: Path) -> None:
    from tests.e2e.test_defer import PAGE, VARIABLES
    from tests.multipart import ACCEPT_PARTS

    sandbox.fault("engraving", delay_ms=300)
    with bezel("serve", sandbox, receiver, tmp_path / "gateway.log") as url:
        response = httpx.post(f"{url}/graphql", json={"query": PAGE, "variables": VARIABLES},
                              headers={"accept": ACCEPT_PARTS}, timeout=10)
        assert response.headers["content-type"].startswith("multipart/mixed")
        spans = receiver.wait_for(lambda all_: any(s.name == "deliver DeferredPage" for s in all_))
    deliver = next(s for s in spans if s.name == "deliver DeferredPage")
    server = next(s for s in spans if s.trace_id == deliver.trace_id and s.kind == "SERVER")
    assert deliver.parent_id == server.span_id
    events = [attrs for name, attrs in deliver.events if name == "part"]
    assert [e["index"] for e in events] == list(range(len(events)))
    assert len(events) >= 3  # the first part, stock and tax, then engraving
    assert events[-1]["bezel.has_next"] is False
