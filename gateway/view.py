"""The GraphQL endpoint, one request top to bottom:

    client (gateway.edge.clients) -> in-flight limit, or shed (gateway.edge.overload)
    -> rate limits (gateway.edge.admission) -> parameters (gateway.edge.params)
    -> the document it runs (gateway.documents) -> its own budgets (admission)
    -> the request's context and budget (gateway.edge.budget) -> strawberry executes (schema/)
    -> the answer, orjson-encoded, with Server-Timing -> its log line (gateway.edge.request_log)

GraphiQL, offline, is `gateway.graphiql`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.streaming import MultipartTransport
from strawberry.types import ExecutionResult

from connectors.loop import LoopLag
from gateway.documents import Documents, Resolved
from gateway.edge import budget, params
from gateway.edge.admission import admit_operation, admit_request
from gateway.edge.clients import DEFAULT_IPV6_PREFIX, Network, client_of
from gateway.edge.overload import InFlightLimit, shed
from gateway.edge.part_paths import PartPaths
from gateway.edge.request_log import RequestLog
from gateway.edge.responses import error_response
from gateway.errors import DocumentRefused
from gateway.graphiql import graphiql_page
from resolvers.context import RequestContext, Services
from schema.bounds import INCREMENTAL
from schema.documents import PREPARED, Prepared
from schema.errors import ensure_coded
from schema.root import BezelSchema

_REQUEST: ContextVar[Request] = ContextVar("bezel_request")  # the request this task is answering
_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
          415: "UNSUPPORTED_MEDIA_TYPE"}


class IncrementalParts(MultipartTransport):
    """@defer/@stream parts as strawberry frames them, announced the way Apollo Client and urql expect."""

    @property
    def headers(self) -> Mapping[str, str]:
        return {"Content-Type": f'multipart/mixed; boundary="{self.separator}"; deferSpec=20220824'}


class BezelGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with Bezel's steps around it (see the module's docstring)."""

    multipart_transport_class = IncrementalParts
    schema: BezelSchema

    def __init__(self, schema: BezelSchema, documents: Documents, *, budget_ms: int, graphiql: bool,
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
        self.log = RequestLog(log_requests, log_sample_rate)
        self.page = graphiql_page() if graphiql else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        request.state.client = client_of(scope, self.trusted_proxies, ipv6_prefix=self.ipv6_client_prefix)
        _REQUEST.set(request)
        if not self.limit.admits(self.in_flight):
            response = shed()
            await self._send(response, started, scope, receive, send)
        else:
            self.in_flight += 1  # the body is in already (gateway.edge.body): slow senders hold no slot
            self.limit.lag.touch()
            try:  # held until the last part of a streamed (@defer) answer has left
                response = await self._answer(request)
                await self._send(response, started, scope, receive, send)
            finally:
                self.in_flight -= 1
        self.log.write(request, response.status_code, time.perf_counter() - started)

    async def _send(self, response: Response, started: float, scope: Scope, receive: Receive, send: Send) -> None:
        # The gateway's own time (parse, execute, encode; not the network) to the first byte, for browser
        # dev tools and for telling the gateway's time from a client's in benchmarks.
        response.headers["server-timing"] = f"gateway;dur={(time.perf_counter() - started) * 1000:.1f}"
        await response(scope, receive, send)

    async def _process_stream_result(self, request: Request, value: Any,
                                     all_pending: list[Any]) -> tuple[GraphQLHTTPResponse, list[Any]]:
        """Each part as strawberry frames it, its items' `path`s completed (`gateway.edge.part_paths`)."""
        response, all_pending = await super()._process_stream_result(request, value, all_pending)
        paths = getattr(request.state, "part_paths", None)
        if paths is None:
            paths = request.state.part_paths = PartPaths()
            paths.initial(dict(response))
        else:
            paths.subsequent(dict(response))
        return response, all_pending

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

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> RequestContext:
        services: Services = request.app.state.services
        context = RequestContext.start(services, budget_ms=budget.budget_ms(request.headers, self.budget_ms),
                                       client=request.state.client)
        request.state.bezel = context  # for the request's log line
        return context

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A GET with no operation in it (no query, documentId or persisted-query hash) is a person."""
        query = request.query_params
        return super().should_render_graphql_ide(request) and not ({"documentId", "extensions"} & set(query))

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        """The request's GraphQL parameters, with the document it may run resolved (by id, by hash or
        as text: `gateway.documents`); the prepared document travels on in its extensions."""
        if request.method == "GET":
            data = params.checked(self.parse_query_params(request.query_params))
        elif "application/json" in parse_content_type(request.content_type or "")[0]:
            data = params.checked(self.parse_json(await request.get_body()))
        else:
            raise HTTPException(400, "Unsupported content type: send application/json (or GET with parameters)")
        resolved = await self.documents.resolve(data, client=_REQUEST.get().state.client)
        extensions = {k: v for k, v in (data.get("extensions") or {}).items() if not k.startswith("bezel.")}
        prepared = await self._admit(request.method, resolved, data.get("operationName"))
        if prepared is not None:  # parsed once per request, whatever it is: a text refused for its shape too
            extensions[PREPARED] = prepared
        if "multipart/mixed" in (request.headers.get("accept") or ""):
            extensions[INCREMENTAL] = True  # @defer/@stream parts; anyone else gets one JSON answer
        return GraphQLRequestData(query=resolved.query, variables=data.get("variables"),
                                  operation_name=data.get("operationName"), extensions=extensions, protocol="http")

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

