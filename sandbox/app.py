"""One Starlette app serving every vendor under its own prefix, plus the admin API.

    /catalog /inventory /tax /insurance /bnpl /engraving /payments /erp /wms /crm
    /fastly /cloudflare   the edges' purge APIs (`sandbox.vendors.edge`)
    /_admin/...   faults, latencies, call counts, recent requests, reset (see README); stock, prices
                  and webhooks (`sandbox.systems`); /_admin/purges: what was purged at the edges

The systems that change things (catalog, inventory, ERP) send signed webhooks to `webhooks_to`
(the gateway's base URL; None: counted, sent nowhere) through one `sandbox.webhooks.Outbox`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

from sandbox.faults import ErrorBody, Fault, FaultBoard, KeepRawSend, Latency, VendorGate
from sandbox.state import SandboxState
from sandbox.systems import Systems
from sandbox.systems import admin_routes as systems_admin_routes
from sandbox.vendors import backoffice, bnpl, catalog, edge, engraving, insurance, inventory, payments, storefront, tax
from sandbox.webhooks import DEFAULT_ERP_SYNC_DELAY_MS, Outbox, Secrets, WebhookSettings


@dataclass(frozen=True)
class FakeVendor:
    """One imitated provider: its routes, its error bodies, and how long it usually takes."""

    routes: Callable[[SandboxState], list[Route]]
    error_body: ErrorBody
    usual: Latency


# Every vendor the sandbox imitates, and its realistic latency: tens to low hundreds of ms, engraving
# and insurance slowest. Bezel's own list is `connectors.models.Vendor`; a test keeps the two equal.
VENDORS: dict[str, FakeVendor] = {
    "catalog": FakeVendor(catalog.routes, catalog.error_body, Latency(mean_ms=45, jitter_ms=20)),
    "inventory": FakeVendor(inventory.routes, inventory.error_body, Latency(mean_ms=35, jitter_ms=15)),
    "tax": FakeVendor(tax.routes, tax.error_body, Latency(mean_ms=90, jitter_ms=40)),
    "insurance": FakeVendor(insurance.routes, insurance.error_body, Latency(mean_ms=180, jitter_ms=70)),
    "bnpl": FakeVendor(bnpl.routes, bnpl.error_body, Latency(mean_ms=70, jitter_ms=30)),
    "engraving": FakeVendor(engraving.routes, engraving.error_body, Latency(mean_ms=240, jitter_ms=90)),
    "payments": FakeVendor(payments.routes, payments.error_body, Latency(mean_ms=280, jitter_ms=100)),
    "erp": FakeVendor(backoffice.erp_routes, backoffice.error_body, Latency(mean_ms=150, jitter_ms=60)),
    "wms": FakeVendor(backoffice.wms_routes, backoffice.error_body, Latency(mean_ms=110, jitter_ms=40)),
    "crm": FakeVendor(backoffice.crm_routes, backoffice.error_body, Latency(mean_ms=80, jitter_ms=30)),
}
VENDOR_NAMES = tuple(VENDORS)
# Not Bezel's vendors but the edges it purges (`connectors.edge`): faults and call counts as for a vendor.
EDGES: dict[str, FakeVendor] = {
    "fastly": FakeVendor(edge.fastly_routes, edge.fastly_error, Latency(mean_ms=40, jitter_ms=15)),
    "cloudflare": FakeVendor(edge.cloudflare_routes, edge.cloudflare_error, Latency(mean_ms=60, jitter_ms=25)),
}
GATED = (*VENDOR_NAMES, *EDGES)


def create_app(*, latency_scale: float = 1.0, seed: int | None = None, webhooks_to: str | None = None,
               erp_sync_delay_ms: int = DEFAULT_ERP_SYNC_DELAY_MS, secrets: Secrets | None = None) -> KeepRawSend:
    """The sandbox. `latency_scale` multiplies every vendor's usual latency (0 for instant); webhooks go to
    `webhooks_to` (None: nowhere), signed with `secrets` (default: `Secrets.from_env()`); the ERP's changes
    reach the inventory system after `erp_sync_delay_ms` (0: at once)."""
    board = FaultBoard(latency_scale=latency_scale, seed=seed,
                       latency={name: vendor.usual for name, vendor in (VENDORS | EDGES).items()})
    state = SandboxState()
    settings = WebhookSettings(to=webhooks_to, erp_sync_delay_ms=erp_sync_delay_ms,
                               secrets=secrets if secrets is not None else Secrets.from_env())
    systems = Systems(state, Outbox(settings, seed=seed))
    routes: list[BaseRoute] = [Route("/healthz", _healthz)]
    for name, vendor in (VENDORS | EDGES).items():
        gate = VendorGate(name, Router(routes=vendor.routes(state)), board, vendor.error_body)
        routes.append(Mount(f"/{name}", app=gate))
    routes.append(Mount("/_admin", routes=[*_admin_routes(board, state, systems), *systems_admin_routes(systems),
                                           *storefront.admin_routes(state.storefront)]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await systems.close()  # pending syncs and webhooks end with the process

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.board = board
    app.state.sandbox = state
    app.state.systems = systems
    wrapped = KeepRawSend(app)
    wrapped.board = board  # type: ignore[attr-defined]
    wrapped.sandbox = state  # type: ignore[attr-defined]
    wrapped.systems = systems  # type: ignore[attr-defined]
    return wrapped


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "vendors": list(VENDOR_NAMES)})


def _admin_routes(board: FaultBoard, state: SandboxState, systems: Systems) -> list[BaseRoute]:
    def unknown(vendor: str) -> Response:
        return JSONResponse({"error": f"unknown vendor {vendor!r}", "vendors": list(VENDOR_NAMES)}, status_code=404)

    async def body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    def invalid(exc: ValidationError) -> Response:
        return JSONResponse({"error": "invalid body", "details": exc.errors(include_url=False, include_input=False)},
                            status_code=422)

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            board.faults.clear()
        return JSONResponse({v: f.model_dump(exclude_defaults=True) for v, f in board.faults.items()})

    async def vendor_fault(request: Request) -> Response:
        vendor = request.path_params["vendor"]
        if vendor not in GATED:
            return unknown(vendor)
        if request.method == "DELETE":
            board.faults.pop(vendor, None)
            return JSONResponse({"vendor": vendor, "fault": {}})
        if request.method == "PUT":
            try:
                board.faults[vendor] = Fault.model_validate(await body(request) or {})
            except ValidationError as exc:
                return invalid(exc)
        fault = board.faults.get(vendor) or Fault()
        return JSONResponse({"vendor": vendor, "fault": fault.model_dump(exclude_defaults=True)})

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            board.calls.clear()
            board.requests.clear()
        return JSONResponse({v: board.calls.get(v, 0) for v in GATED})

    async def requests(request: Request) -> Response:
        vendor = request.query_params.get("vendor")
        limit = int(request.query_params.get("limit", "100"))
        rows = [r for r in board.requests if vendor is None or r.vendor == vendor][-limit:]
        return JSONResponse([r.__dict__ for r in rows])

    async def latency(request: Request) -> Response:
        if request.method == "PUT":
            data = await body(request) or {}
            scale = data.get("scale") if isinstance(data, dict) else None
            if not isinstance(scale, int | float) or scale < 0:
                return JSONResponse({"error": "body must be {\"scale\": number >= 0}"}, status_code=422)
            board.latency_scale = float(scale)
        return JSONResponse({"scale": board.latency_scale,
                             "vendors": {v: lat.model_dump() for v, lat in board.latency.items()}})

    async def vendor_latency(request: Request) -> Response:
        vendor = request.path_params["vendor"]
        if vendor not in GATED:
            return unknown(vendor)
        try:
            board.latency[vendor] = Latency.model_validate(await body(request) or {})
        except ValidationError as exc:
            return invalid(exc)
        return JSONResponse({"vendor": vendor, "latency": board.latency[vendor].model_dump()})

    async def received(request: Request) -> Response:
        return JSONResponse(state.received.get(request.path_params["vendor"], {}))

    async def purges(request: Request) -> Response:
        if request.method == "DELETE":
            state.purges.clear()
        return JSONResponse(state.purges)

    async def reset(request: Request) -> Response:
        board.faults.clear()
        board.calls.clear()
        board.requests.clear()
        await systems.reset()  # before the tables: a sync still pending must not land on the new ones
        state.reset_catalog()
        state.storefront.configure(storefront.StorefrontSettings())
        state.reset_stock()
        state.payment_intents.clear()
        state.idempotency.clear()
        state.received.clear()
        state.insurance_policies.clear()
        state.purges.clear()
        return JSONResponse({"reset": True})

    return [
        Route("/faults", faults, methods=["GET", "DELETE"]),
        Route("/faults/{vendor}", vendor_fault, methods=["GET", "PUT", "DELETE"]),
        Route("/calls", calls, methods=["GET", "DELETE"]),
        Route("/requests", requests, methods=["GET"]),
        Route("/latency", latency, methods=["GET", "PUT"]),
        Route("/latency/{vendor}", vendor_latency, methods=["PUT"]),
        Route("/received/{vendor}", received, methods=["GET"]),
        Route("/purges", purges, methods=["GET", "DELETE"]),
        Route("/reset", reset, methods=["POST"]),
    ]
