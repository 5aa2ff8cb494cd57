"""The admin port: liveness, readiness and metrics, for the platform, never for the internet.

In production `/metrics` (80 KB of everything the process knows) and `/readyz` (breakers, Redis)
are served only here, on `[admin] host:port` (127.0.0.1:8001 by default); `/healthz` stays on the
public port too, where load balancers look for it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from resolvers.context import Services

READY_REDIS_TIMEOUT_S = 0.25


def admin_app(gateway: Starlette) -> Starlette:
    """The admin routes, reading the gateway's state (its services, once started)."""
    app = Starlette(routes=admin_routes())
    app.state.gateway = gateway
    return app


def admin_routes() -> list[Route]:
    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", prometheus_metrics)]


async def healthz(request: Request) -> Response:
    """The process is alive (for a liveness probe and the container's HEALTHCHECK)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Can this process serve, and how well? 503 only if it cannot serve at all (starting, stopping);
    Redis down or a vendor's breaker open is `degraded`: pages still answer, from what is left."""
    app = getattr(request.app.state, "gateway", request.app)  # the admin app reads the gateway's state
    services: Services | None = app.state.services
    if services is None:
        return JSONResponse({"status": "unavailable", "reason": "starting or stopping"}, status_code=503)
    checks: dict[str, Any] = {"vendors": {}, "redis": await _redis_check(services)}
    degraded = checks["redis"]["status"] == "degraded"
    for vendor, policy in services.vendors.policies.items():
        state = policy.breaker.state.value
        checks["vendors"][vendor] = {"breaker": state}
        degraded = degraded or state != "closed"
    return JSONResponse({"status": "degraded" if degraded else "ok", "checks": checks,
                         "worker": {"pid": os.getpid()}})  # which of `bezel serve`'s workers answered


async def _redis_check(services: Services) -> dict[str, Any]:
    cache = services.vendors.cache.redis
    store = services.store
    if cache is None and store is None:
        return {"status": "not_configured", "detail": "in-process cache only; checkout unavailable"}
    result: dict[str, Any] = {"status": "ok"}
    if cache is not None:
        result["cache_tier"] = cache.state
        result["invalidations"] = "subscribed" if services.bus.connected else "reconnecting"
        if cache.state != "ok" or not services.bus.connected:  # events reach this process late: TTLs still hold
            result["status"] = "degraded"
    if store is not None:
        try:
            async with asyncio.timeout(READY_REDIS_TIMEOUT_S):
                answered = await store.ping()
        except TimeoutError:
            answered = False
        result["order_store"] = "ok" if answered else "unreachable"
        if not answered:
            result["status"] = "degraded"
            result["detail"] = "checkout answers CHECKOUT_UNAVAILABLE; product pages serve from the in-process tier"
    return result


async def prometheus_metrics(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
