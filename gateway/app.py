"""The gateway's Starlette app: routes, middleware, and what lives for the whole process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from importlib import resources

import httpx
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from connectors.loop import LoopLag
from gateway import telemetry
from gateway.admin import admin_routes, healthz
from gateway.answers import AnswerStore
from gateway.documents import Documents, PersistedQueries
from gateway.edge.body import BodyReader
from gateway.edge.budget import BUDGET_HEADER
from gateway.edge.caching import CachePolicy, EdgePolicy
from gateway.edge.clients import SamplingGuard, networks
from gateway.edge.overload import InFlightLimit
from gateway.graphiql import ASSETS_PATH
from gateway.services import running_services
from gateway.settings import Settings, log_insecure_overrides
from gateway.storefront import storefront_manifest, storefront_routes
from gateway.upkeep import watch_queues
from gateway.view import BezelGraphQL
from gateway.webhooks import EventQueue, webhook_routes
from schema import build_schema

GC_GEN0_THRESHOLD = 10_000  # Python's default is 700


async def end_streams(app: Starlette, stop: asyncio.Event) -> None:
    """When the process is told to stop (SIGTERM, a reload replacing it), end its subscriptions first:
    each client is told `SUBSCRIPTION_ENDED` (`reconnect: true`) and subscribes again to a process that
    stays, and uvicorn's drain is not held by streams that would never end by themselves."""
    await stop.wait()
    services = app.state.services
    if services is not None and services.live is not None:
        await services.live.aclose()


def create_app(settings: Settings, *, vendor_transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """The gateway. `vendor_transport` replaces real HTTP to vendors (narrow unit tests only)."""
    telemetry.setup("bezel-gateway")
    log_insecure_overrides(settings)  # every gateway process, every start (`bezel serve`'s workers, `bezel dev`)
    lag = LoopLag()  # this process's event loop: the in-flight limit follows it, hedges wait for it
    schema = build_schema(settings.gateway, introspection=not settings.production,
                          suggestions=not settings.production, fast_path=settings.gateway.fast_path)
    docs = settings.documents
    apq = PersistedQueries(ttl_s=docs.apq_ttl_s, local_max_entries=docs.apq_local_max_entries,
                           max_bytes=docs.apq_max_bytes, max_entries=docs.apq_max_entries) if docs.apq else None
    documents = Documents(schema, manifest_paths=[docs.manifest, storefront_manifest(settings.storefront)],
                          require_trusted=docs.require_trusted, apq=apq)
    schema.operation_labels = frozenset(settings.gateway.operation_labels) | documents.operation_names
    trusted = networks(settings.gateway.trusted_proxies)
    caching = CachePolicy(settings.vendors)  # one decision for the edge and the answer store
    answers = AnswerStore(caching, max_entries=settings.answers.max_entries, max_age_s=settings.answers.max_age_s,
                          max_mb=settings.answers.max_mb) if settings.answers.enabled else None
    view = BezelGraphQL(schema, documents, budget_ms=settings.gateway.budget_ms, graphiql=not settings.production,
                        in_flight=InFlightLimit(settings.gateway.max_in_flight,
                                                adaptive=settings.gateway.adaptive_in_flight, lag=lag),
                        trusted_proxies=trusted, ipv6_client_prefix=settings.gateway.ipv6_client_prefix,
                        log_requests=settings.logging.requests,
                        log_sample_rate=settings.logging.sample_rate,
                        production=settings.production, live=settings.live,
                        allowed_origins=tuple(settings.gateway.cors_origins),
                        edge=EdgePolicy(settings.edge, settings.vendors, caching), answers=answers)

    events = EventQueue(settings.events.queue)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running_services(settings, vendor_transport=vendor_transport, lag=lag) as services:
            stop = asyncio.Event()
            watcher = None
            lag.start(target_s=settings.gateway.loop_lag_target_ms / 1000)
            if services.store is not None:  # queue gauges on this process's /metrics too
                watcher = asyncio.ensure_future(watch_queues(services.store, settings.worker.consumers, stop))
            app.state.services = services
            if answers is not None:  # every invalidation any process publishes, and a dropped tier
                services.bus.listen(answers.forget)
                services.bus.on_clear(answers.clear)
            events.start(services)
            if apq is not None:
                apq.share(services.vendors.cache.redis, services.limits)  # shared by every process
            # Everything built so far lives as long as the process: keep it out of every garbage
            # collection, and collect the young generation less often (a page allocates thousands of
            # short-lived objects). Measured: ~6% less CPU per cached page.
            gc.collect()
            gc.freeze()
            gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
            try:
                yield
            finally:
                app.state.services = None  # not ready while shutting down
                await events.aclose()
                lag.stop()
                stop.set()
                if watcher is not None:
                    await watcher

    middleware = [Middleware(BodyReader, limit=settings.gateway.max_body_bytes,
                             timeout_s=settings.gateway.body_timeout_ms / 1000,
                             larger={"/webhooks/": settings.events.max_body_bytes})]
    if settings.gateway.cors_origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=settings.gateway.cors_origins,
                                     allow_methods=["GET", "POST"], allow_headers=["content-type", BUDGET_HEADER]))
    if telemetry.tracing_enabled():
        # The server span of every request (continuing a caller's traceparent); no spans per ASGI message.
        middleware.insert(0, Middleware(OpenTelemetryMiddleware, exclude_spans=["receive", "send"],
                                        excluded_urls="healthz,readyz,metrics,_bezel"))
        if not settings.gateway.follow_client_sampling:  # outside it: a caller cannot force a trace recorded
            middleware.insert(0, Middleware(SamplingGuard, trusted=trusted))
    assets = StaticFiles(directory=str(resources.files("gateway").joinpath("static/graphiql")))
    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),  # graphql-transport-ws (gateway.live_socket)
            Mount(ASSETS_PATH, app=assets),
            Route("/healthz", healthz),
            # In production these are on the admin port only (`gateway.admin`).
            *([] if settings.production else admin_routes()[1:]),
            *storefront_routes(settings.storefront),
            *webhook_routes(settings.events, events),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = None
    app.state.events = events
    app.state.lag = lag
    app.state.schema = schema
    app.state.answers = answers
    return app
