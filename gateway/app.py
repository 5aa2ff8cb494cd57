"""The gateway's Starlette app: routes, middleware, and what lives for the whole process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib import resources

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.limits import MaxBodySize
from gateway.services import running_services
from gateway.settings import Settings
from gateway.view import ASSETS_PATH, BUDGET_HEADER, BezelGraphQL
from schema import SchemaLimits, build_schema


def create_app(settings: Settings, *, vendor_transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """The gateway. `vendor_transport` replaces real HTTP to vendors (narrow unit tests only)."""
    limits = SchemaLimits(
        max_depth=settings.gateway.max_depth,
        max_aliases=settings.gateway.max_aliases,
        max_tokens=settings.gateway.max_tokens,
        introspection=not settings.production,
    )
    view = BezelGraphQL(build_schema(limits), budget_ms=settings.gateway.budget_ms,
                        graphiql=not settings.production)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running_services(settings, vendor_transport=vendor_transport) as services:
            app.state.services = services
            yield

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    assets = StaticFiles(directory=str(resources.files("gateway").joinpath("static/graphiql")))
    middleware = [Middleware(MaxBodySize, limit=settings.gateway.max_body_bytes)]
    if settings.gateway.cors_origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=settings.gateway.cors_origins,
                                     allow_methods=["GET", "POST"], allow_headers=["content-type", BUDGET_HEADER]))
    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            Mount(ASSETS_PATH, app=assets),
            Route("/healthz", healthz),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
