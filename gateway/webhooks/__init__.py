"""Webhooks in: `POST /webhooks/shopify`, `/webhooks/commercetools`, `/webhooks/erp`.

Each delivery is answered at once, its work done behind the answer (Shopify gives up after 5 s and
retries; a slow answer would look like a failure):

    rate limit per source (429) -> signature (401) -> body (400) -> topic (unknown: 200)
    -> seen before or older than what is known (200) -> queued (503 when full) -> 200

then `resolvers.events.apply` replaces or drops what the event changed in every process. None of it
touches a page's path: the queue is drained by one task per process, one event at a time. Every
outcome is counted in `bezel_events_total{source, topic, outcome}`. A source whose secret is not in
the environment has no endpoint (404).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.events import Admission
from connectors.models import Event, EventSource
from connectors.telemetry import meter
from gateway.edge.responses import error_response
from gateway.settings import EventsSettings, secret
from gateway.webhooks import readers, signatures
from resolvers.context import Services
from resolvers.events import apply

log = logging.getLogger("bezel.events")
EVENTS = meter.create_counter(
    "bezel.events",
    description="Webhook deliveries by source, topic and outcome: applied, duplicate, stale, unknown_topic, "
                "bad_signature, malformed, rate_limited, overflow, failed.")
_TOPICS = {EventSource.SHOPIFY: readers.SHOPIFY_TOPICS,
           EventSource.COMMERCETOOLS: frozenset({readers.COMMERCETOOLS_STOCK, *readers.COMMERCETOOLS_PRODUCTS}),
           EventSource.ERP: readers.ERP_TYPES}


def count(source: EventSource, topic: str, outcome: str) -> None:
    """One delivery's outcome; a topic Bezel does not know is labelled "other" (senders do not pick labels)."""
    EVENTS.add(1, {"source": source, "topic": topic if topic in _TOPICS[source] else "other", "outcome": outcome})


@dataclass(frozen=True)
class Sender:
    source: EventSource
    verify: Callable[[Request, bytes], bool]
    read: Callable[[Request, Any], Event | None]


def senders(config: EventsSettings) -> dict[EventSource, Sender]:
    """The sources whose secrets are in the environment, each with how to verify and read it."""
    def secrets(*names: str) -> list[str]:
        return [s for s in (secret(n) for n in names) if s]

    out: dict[EventSource, Sender] = {}
    if shopify := secrets(config.shopify_secret_env, config.shopify_previous_secret_env):
        out[EventSource.SHOPIFY] = Sender(
            EventSource.SHOPIFY,
            lambda r, body: signatures.shopify(body, r.headers.get("x-shopify-hmac-sha256"), shopify),
            lambda r, data: readers.shopify(r.headers, data))
    if tokens := secrets(config.commercetools_token_env, config.commercetools_previous_token_env):
        out[EventSource.COMMERCETOOLS] = Sender(
            EventSource.COMMERCETOOLS, lambda r, body: signatures.bearer(r.headers.get("authorization"), tokens),
            lambda r, data: readers.commercetools(data))
    if erp := secrets(config.erp_secret_env, config.erp_previous_secret_env):
        out[EventSource.ERP] = Sender(
            EventSource.ERP,
            lambda r, body: signatures.bezel(body, r.headers.get("x-bezel-signature"), erp,
                                             tolerance_s=config.erp_tolerance_s),
            lambda r, data: readers.erp(data))
    return out


class EventQueue:
    """Events taken and not yet applied, drained by one task: the work leaves the request."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        self._task: asyncio.Task[None] | None = None

    def start(self, services: Services) -> None:
        self._task = asyncio.ensure_future(self._drain(services))

    async def _drain(self, services: Services) -> None:
        while True:
            event = await self.queue.get()
            try:
                await apply(services.vendors, services.store, services.bus, event)
                count(event.source, event.topic, "applied")
            except Exception:  # one bad event must not stop the rest; its TTLs still bound what it changed
                log.exception("event %s %s could not be applied", event.source, event.delivery_id)
                count(event.source, event.topic, "failed")
            finally:
                self.queue.task_done()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def webhook_routes(config: EventsSettings, queue: EventQueue) -> list[Route]:
    known = senders(config)

    async def receive(request: Request) -> Response:
        source = EventSource(request.path_params["source"]) if request.path_params["source"] in set(
            EventSource) else None
        sender = known.get(source) if source is not None else None
        services: Services | None = request.app.state.services
        if sender is None:
            return error_response(404, "No such webhook endpoint.", "NOT_FOUND")
        if services is None:
            return error_response(503, "Starting or stopping; deliver again shortly.", "UNAVAILABLE")
        return await _receive(request, sender, services, queue)

    return [Route("/webhooks/{source}", receive, methods=["POST"])]


async def _receive(request: Request, sender: Sender, services: Services, queue: EventQueue) -> Response:
    source = sender.source
    topic = request.headers.get("x-shopify-topic", "")
    wait = await services.limits.hit("webhooks", source)
    if wait is not None:
        count(source, topic, "rate_limited")
        return error_response(429, "Too many deliveries; retry later.", "RATE_LIMITED",
                              headers={"retry-after": f"{max(1, round(wait))}"})
    body = await request.body()
    if not sender.verify(request, body):
        count(source, topic, "bad_signature")
        log.warning("webhook from %s refused: bad signature", source)
        return error_response(401, "The signature does not match.", "UNAUTHORIZED")
    try:
        event = sender.read(request, orjson.loads(body))
    except (orjson.JSONDecodeError, readers.Malformed) as exc:
        count(source, topic, "malformed")
        log.warning("webhook from %s refused: %s", source, exc if isinstance(exc, readers.Malformed) else "not JSON")
        return error_response(400, "The body is not a delivery this endpoint reads.", "BAD_REQUEST")
    if event is None:
        count(source, topic, "unknown_topic")
        return JSONResponse({"ok": True, "outcome": "ignored"})
    if queue.queue.full():
        count(source, event.topic, "overflow")
        return error_response(503, "Too many events waiting; deliver again shortly.", "OVERLOADED",
                              headers={"retry-after": "5"})
    admission = await services.ledger.admit(event)
    if admission is not Admission.NEW:
        count(source, event.topic, admission.value)
        return JSONResponse({"ok": True, "outcome": admission.value})
    try:
        queue.queue.put_nowait(event)
    except asyncio.QueueFull:  # filled while the ledger was asked: its TTLs still bound what it changed
        count(source, event.topic, "overflow")
        return JSONResponse({"ok": True, "outcome": "dropped"})
    return JSONResponse({"ok": True, "outcome": "accepted"})
