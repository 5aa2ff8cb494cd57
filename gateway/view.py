"""The GraphQL endpoint: which document runs, per-request context and budget, orjson encoding, JSON
errors, offline GraphiQL."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from contextvars import ContextVar
from importlib import resources
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.async_base_view import AsyncHTTPRequestAdapter
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.streaming import MultipartTransport
from strawberry.types import ExecutionResult

from connectors.loop import LoopLag
from connectors.models import Outcome
from connectors.telemetry import Tally
from gateway.documents import Documents, Resolved
from gateway.edge.admission import admit_operation, admit_request
from gateway.edge.clients import DEFAULT_IPV6_PREFIX, Network, client_of
from gateway.edge.overload import InFlightLimit
from gateway.edge.responses import error_response
from gateway.errors import DocumentRefused
from resolvers.context import RequestContext, Services
from schema.bounds import INCREMENTAL
from schema.documents import PREPARED, Prepared
from schema.errors import ensure_coded

log = logging.getLogger("bezel.requests")
BUDGET_HEADER = "x-bezel-budget-ms"
ASSETS_PATH = "/_bezel/graphiql"
REQUESTS_SHED = Tally(
    "bezel.requests.shed",
    description="GraphQL requests answered 503 OVERLOADED because the process had as many in flight as its "
                "limit allowed (max_in_flight, or less while the event loop runs late).")


_REQUEST: ContextVar[Request] = ContextVar("bezel_request")  # the request this task is answering


_CLEAN = frozenset({Outcome.LIVE, Outcome.CACHE})  # vendor outcomes of a request that went right
_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
          415: "UNSUPPORTED_MEDIA_TYPE"}


class IncrementalParts(MultipartTransport):
    """@defer/@stream parts as strawberry frames them, announced the way Apollo Client and urql expect."""

    @property
    def headers(self) -> Mapping[str, str]:
        return {"Content-Type": f'multipart/mixed; boundary="{self.separator}"; deferSpec=20220824'}


class BezelGraphQL(GraphQL):
    """Strawberry's ASGI view with Bezel's context, budget header, encoding and GraphiQL page."""

    multipart_transport_class = IncrementalParts

    def __init__(self, schema: Any, documents: Documents, *, budget_ms: int, graphiql: bool,
                 in_flight: InFlightLimit | None = None, trusted_proxies: tuple[Network, ...] = (),
                 ipv6_client_prefix: int = DEFAULT_IPV6_PREFIX, production: bool = False,
                 log_requests: str = "all", log_sample_rate: float = 1.0) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=True,
                         subscription_protocols=())
        self.documents = documents
        self.trusted_proxies = trusted_proxies
        self.ipv6_client_prefix = ipv6_client_prefix
        self.production = production
        self.budget_ms = budget_ms
        self.limit = in_flight or InFlightLimit(0, adaptive=False, lag=LoopLag())
        self.in_flight = 0
        self.log_requests = log_requests
        self.log_sample_rate = log_sample_rate
        page = resources.files("gateway").joinpath("static/graphiql.html").read_text()
        example = resources.files("gateway").joinpath("static/product-page.graphql").read_text()
        self.page = page.replace("__ASSETS__", ASSETS_PATH).replace(
            "__EXAMPLE_QUERY__", orjson.dumps(example).decode().replace("</", "<\\/")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        request.state.client = client_of(scope, self.trusted_proxies, ipv6_prefix=self.ipv6_client_prefix)
        _REQUEST.set(request)
        if not self.limit.admits(self.in_flight):
            response = self._shed()
            await self._send(response, started, scope, receive, send)
        else:
            self.in_flight += 1  # the body is in already (gateway.edge.body): slow senders hold no slot
            self.limit.lag.touch()
            try:  # held until the last part of a streamed (@defer) answer has left
                response = await self._answer(request)
                await self._send(response, started, scope, receive, send)
            finally:
                self.in_flight -= 1
        if self._worth_logging(request, response.status_code):
            _log_request(request, response.status_code, time.perf_counter() - started)

    def _worth_logging(self, request: Request, status: int) -> bool:
        """`[logging] requests`: every request, or those that went wrong (plus a sample of the rest)."""
        if self.log_requests == "all":
            return True
        context: RequestContext | None = getattr(request.state, "bezel", None)
        if status != 200 or context is None or context.partial_errors or any(
                record.outcome not in _CLEAN for record in context.scope.log.records):
            return True
        return self.log_requests == "sampled" and random.random() < self.log_sample_rate

    async def _send(self, response: Response, started: float, scope: Scope, receive: Receive, send: Send) -> None:
        # The gateway's own time (parse, execute, encode; not the network) to the first byte, for browser
        # dev tools and for telling the gateway's time from a client's in benchmarks.
        response.headers["server-timing"] = f"gateway;dur={(time.perf_counter() - started) * 1000:.1f}"
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        try:
            services: Services | None = request.app.state.services
            if services is not None:
                await admit_request(services.limits, request.state.client)
            return await self.run(request)
        except HTTPException as exc:
            return error_response(exc.status_code, exc.reason, _CODES.get(exc.status_code, "BAD_REQUEST"))
        except DocumentRefused as exc:
            return error_response(exc.status, exc.message, exc.code, exc.headers)

    def _shed(self) -> Response:
        """Overloaded: answer now, cheaply, rather than queue work that would finish past its budget
        and slow every request behind it (an overloaded worker otherwise does not recover)."""
        REQUESTS_SHED.add(1, ())
        response = error_response(503, "The gateway is at capacity; retry shortly.", "OVERLOADED")
        response.headers["retry-after"] = "1"
        return response

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> RequestContext:
        services: Services = request.app.state.services
        context = RequestContext.start(services, budget_ms=self.request_budget_ms(request),
                                       client=request.state.client)
        request.state.bezel = context  # for the request's log line
        return context

    def request_budget_ms(self, request: Request | WebSocket) -> float:
        """The configured budget, or less if the client asks for less (never more)."""
        raw = request.headers.get(BUDGET_HEADER)
        if raw is None:
            return self.budget_ms
        try:
            asked = int(raw)
        except ValueError:
            asked = 0
        if asked <= 0:
            raise HTTPException(400, f"{BUDGET_HEADER} must be a positive integer of milliseconds")
        return min(asked, self.budget_ms)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A GET with no operation in it (no query, documentId or persisted-query hash) is a person."""
        params = request.query_params
        return super().should_render_graphql_ide(request) and not ({"documentId", "extensions"} & set(params))

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        """The request's GraphQL parameters, with the document it may run resolved (by id, by hash or
        as text: `gateway.documents`); a trusted document travels on, prepared, in its extensions."""
        if request.method == "GET":
            data = self.parse_query_params(request.query_params)
        elif "application/json" in parse_content_type(request.content_type or "")[0]:
            data = self.parse_json(await request.get_body())
        else:
            raise HTTPException(400, "Unsupported content type: send application/json (or GET with parameters)")
        if not isinstance(data, dict):
            raise HTTPException(400, 'The request body must be a JSON object, e.g. {"query": "..."}.')
        variables, extensions = data.get("variables"), data.get("extensions")
        if not isinstance(variables, dict | None) or not isinstance(extensions, dict | None):
            raise HTTPException(400, "`variables` and `extensions` must be objects (or null), if given.")
        if not isinstance(data.get("query"), str | None) or not isinstance(data.get("operationName"), str | None):
            raise HTTPException(400, "`query` and `operationName` must be strings (or null), if given.")
        resolved = await self.documents.resolve(data, client=_REQUEST.get().state.client)
        extensions = {k: v for k, v in (extensions or {}).items() if not k.startswith("bezel.")}  # ours to set
        prepared = await self._admit(request.method, resolved, data.get("operationName"))
        if prepared is not None:  # parsed once per request, whatever it is: a text refused for its shape too
            extensions[PREPARED] = prepared
        if "multipart/mixed" in (request.headers.get("accept") or ""):
            extensions[INCREMENTAL] = True  # @defer/@stream parts; anyone else gets one JSON answer
        return GraphQLRequestData(query=resolved.query, variables=variables, operation_name=data.get("operationName"),
                                  extensions=extensions, protocol="http")

    async def _admit(self, method: str, resolved: Resolved, operation_name: str | None) -> Prepared | None:
        """The operation's own budgets (checkout, order lookups), and what it may not do by GET; the
        document prepared (None for a text that does not parse: strawberry reports its syntax error)."""
        request = _REQUEST.get()
        prepared = resolved.prepared or (self.schema.documents.parsed(resolved.query) if resolved.query else None)
        services: Services | None = request.app.state.services
        if services is None:
            return prepared
        fields = prepared.root_fields(operation_name) if prepared is not None else frozenset()
        await admit_operation(services.limits, request.state.client, method=method, fields=fields,
                              production=self.production)
        return prepared

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = ensure_coded(result.errors)
        return await super().process_result(request, result)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.page)


def _log_request(request: Request, status: int, duration_s: float) -> None:
    """One structured line per GraphQL request: operation, status, duration, each vendor's outcome."""
    if not log.isEnabledFor(logging.INFO):  # the line below would be dropped: do not build it
        return
    context: RequestContext | None = getattr(request.state, "bezel", None)
    if context is None:  # the GraphiQL page, or refused before any context was made
        if request.method == "GET" and status == 200:
            return
        log.info("request refused", extra={"status": status, "duration_ms": round(duration_s * 1000, 1)})
        return
    name, kind = context.operation or (None, "unknown")
    vendors = context.scope.log.summary()
    log.info(
        "%s %s", kind, name or "anonymous",
        extra={
            "operation": name,
            "operation_type": kind,
            "status": status,
            "duration_ms": round(duration_s * 1000, 1),
            "budget_ms": context.scope.deadline.budget_ms,
            "vendors": {vendor: line["outcome"] for vendor, line in vendors.items()},
            "partial_errors": sorted(context.partial_errors),
        },
    )
