"""The GraphQL endpoint, one request top to bottom:

    client (gateway.edge.clients) -> in-flight limit, or shed (gateway.edge.overload)
    -> rate limits (gateway.edge.admission) -> parameters (gateway.edge.params)
    -> the document it runs (gateway.documents) -> its own budgets (admission)
    -> the request's context and budget (gateway.edge.budget) -> strawberry executes (schema/)
    -> the answer, orjson-encoded, with Server-Timing -> its log line (gateway.edge.request_log)

A query answered before whose every part is still fresh is sent from the answer store (`gateway.answers`)
once it is admitted: the same steps up to the document's own budgets, then no execution.

Subscriptions (`schema.live`) come the way each client sends them, on the same endpoint and through the
same steps: Apollo Client's multipart HTTP subscriptions (`Accept: multipart/mixed;subscriptionSpec=1.0`),
GraphQL over Server-Sent Events (graphql-sse's distinct connections: `Accept: text/event-stream`), and
graphql-transport-ws over a WebSocket (`gateway.live_socket`). A subscription holds no in-flight slot
once its answer starts streaming: the slot is the setup's (document, admission, context), and the hub's
own caps bound the streams (`resolvers.live`). A query keeps one JSON answer whatever its `Accept` lists
(urql lists `text/event-stream` on every query).

GraphiQL, offline, is `gateway.graphiql`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
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
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult

from connectors.config import LiveConfig
from connectors.loop import LoopLag
from gateway.answers import ANSWERS, AnswerStore, request_key, storable_document
from gateway.documents import Documents, Resolved
from gateway.edge import budget, params
from gateway.edge.admission import admit_operation, admit_request
from gateway.edge.budget import BUDGET_HEADER
from gateway.edge.caching import EdgePolicy
from gateway.edge.clients import DEFAULT_IPV6_PREFIX, Network, client_of
from gateway.edge.overload import InFlightLimit, shed
from gateway.edge.part_paths import PartPaths
from gateway.edge.request_log import RequestLog
from gateway.edge.responses import error_response
from gateway.edge.writes import writes_with_each_part
from gateway.errors import DocumentRefused
from gateway.graphiql import graphiql_page
from gateway.live_encoding import EncodedOnce
from gateway.live_socket import LiveSocket, TextFrames
from gateway.live_transports import IncrementalParts, live_transports, opened
from resolvers.context import RequestContext, Services
from schema.bounds import INCREMENTAL
from schema.documents import PREPARED, Prepared
from schema.errors import ensure_coded
from schema.root import BezelSchema

_REQUEST: ContextVar[Request] = ContextVar("bezel_request")  # the request this task is answering
_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE",
          413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


class BezelGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with Bezel's steps around it (see the module's docstring)."""

    multipart_transport_class = IncrementalParts
    graphql_transport_ws_handler_class = LiveSocket
    websocket_adapter_class = TextFrames
    schema: BezelSchema

    def __init__(self, schema: BezelSchema, documents: Documents, *, budget_ms: int, graphiql: bool,
                 in_flight: InFlightLimit | None = None, trusted_proxies: tuple[Network, ...] = (),
                 ipv6_client_prefix: int = DEFAULT_IPV6_PREFIX, production: bool = False,
                 log_requests: str = "all", log_sample_rate: float = 1.0, live: LiveConfig | None = None,
                 allowed_origins: tuple[str, ...] = (), edge: EdgePolicy | None = None,
                 answers: AnswerStore | None = None) -> None:
        live = live or LiveConfig()
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=True,
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL,
                                                 GRAPHQL_SSE_PROTOCOL),
                         # None: the hub caps subscriptions per client with a typed TOO_MANY_SUBSCRIPTIONS
                         # (`resolvers.live`); strawberry's own cap would answer an uncoded error first.
                         max_subscriptions_per_connection=None, allowed_origins=allowed_origins)
        self.stream_transport_classes_by_protocol = live_transports(live.heartbeat_s)
        self.socket_payloads = EncodedOnce()  # graphql-transport-ws `next` payloads (`gateway.live_socket`)
        self.documents = documents
        self.trusted_proxies = trusted_proxies
        self.ipv6_client_prefix = ipv6_client_prefix
        self.production = production
        self.budget_ms = budget_ms
        self.limit = in_flight or InFlightLimit(0, adaptive=False, lag=LoopLag())
        self.in_flight = 0
        self.streaming = 0  # subscriptions' answers streaming now (counted apart from in_flight)
        self.log = RequestLog(log_requests, log_sample_rate)
        self.page = graphiql_page() if graphiql else ""
        self.edge = edge  # Cache-Control, surrogate keys and ETag of answers to GET (`gateway.edge.caching`)
        self.answers = answers  # answers sent again without executing (`gateway.answers`)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._socket(WebSocket(scope, receive, send))
            return
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        async with writes_with_each_part(send) as sending:
            await self._http(scope, receive, sending)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
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
            held = True
            try:  # held until the last part of a streamed (@defer) answer has left
                response = await self._answer(request)
                if getattr(request.state, "live", False) and response.status_code == 200:
                    # A subscription's stream lasts as long as the page: it must not hold a slot a page
                    # needs (its first message is read under the request's budget, its caps are the hub's).
                    self.in_flight -= 1
                    held = False
                    self.streaming += 1
                    try:
                        await self._send(response, started, scope, receive, send)
                    finally:
                        self.streaming -= 1
                else:
                    await self._send(response, started, scope, receive, send)
            finally:
                if held:
                    self.in_flight -= 1
        self.log.write(request, response.status_code, time.perf_counter() - started)

    async def _socket(self, websocket: WebSocket) -> None:
        """graphql-transport-ws: who the client is and its page budget at the handshake; each subscribe
        message's document is then resolved and admitted as a request's is (`gateway.live_socket`)."""
        websocket.state.client = client_of(websocket.scope, self.trusted_proxies, ipv6_prefix=self.ipv6_client_prefix)
        services: Services | None = websocket.app.state.services
        if services is None:  # starting or stopping: try again (elsewhere)
            await websocket.close(code=1013)
            return
        try:
            await admit_request(services.limits, websocket.state.client)
        except DocumentRefused:
            await websocket.close(code=1008, reason="RATE_LIMITED")
            return
        await self.run(websocket)

    async def resolve_subscription(self, data: dict[str, Any], context: RequestContext) -> str | None:
        """A subscribe message's document (by id, hash or text, as over HTTP) once it is admitted;
        `DocumentRefused` for what HTTP would refuse, and for anything but a subscription."""
        resolved = await self.documents.resolve(params.checked(data), client=context.client)
        prepared = resolved.prepared or (self.schema.documents.parsed(resolved.query) if resolved.query else None)
        operation_name = data.get("operationName")
        if prepared is not None and not prepared.errors and not prepared.is_subscription(operation_name):
            raise DocumentRefused(400, "BAD_REQUEST", "Over a WebSocket Bezel runs subscriptions only; send "
                                  "queries and mutations by HTTP.")
        if prepared is not None:
            await admit_operation(context.services.limits, context.client, method="POST",
                                  fields=prepared.root_fields(operation_name), production=self.production)
        return resolved.query

    async def _send(self, response: Response, started: float, scope: Scope, receive: Receive, send: Send) -> None:
        # The gateway's own time (parse, execute, encode; not the network) to the first byte, for browser
        # dev tools and for telling the gateway's time from a client's in benchmarks.
        response.headers["server-timing"] = f"gateway;dur={(time.perf_counter() - started) * 1000:.1f}"
        await response(scope, receive, send)

    async def create_streaming_response(self, request: Request | WebSocket, stream: Callable[[], AsyncIterator[str]],
                                        sub_response: Response, headers: Mapping[str, str]) -> Response:
        """strawberry's streamed answer; a multipart subscription's opened with its delimiter (`opened`)."""
        if "subscriptionspec" in headers.get("Content-Type", "").lower():
            stream = opened(stream)
        return await super().create_streaming_response(request, stream, sub_response, headers)

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
            stored = await self._stored(request, services) if self.answers is not None else None
            if stored is not None:
                response = stored
            else:
                response = await self.run(request)
                if self.answers is not None:
                    self._keep(request, response, self.answers)
        except HTTPException as exc:
            response = error_response(exc.status_code, exc.reason, _CODES.get(exc.status_code, "BAD_REQUEST"))
        except DocumentRefused as exc:
            response = error_response(exc.status, exc.message, exc.code, exc.headers)
        if self.edge is not None and request.method == "GET":
            response = self.edge.apply(request, response, getattr(request.state, "edge_decision", None))
        return response

    async def _stored(self, request: Request, services: Services | None) -> Response | None:
        """The answer store's answer to this request, once admitted; None to execute it. A request it could
        keep gets its key (`request.state.answer_key`), and what it parsed is not parsed again."""
        if services is None or BUDGET_HEADER in request.headers or "multipart/mixed" in (request.headers.get("accept")
                                                                                        or ""):
            return None
        get = request.method == "GET"
        if get and not {"query", "documentId", "extensions"} & set(request.query_params):
            return None  # GraphiQL, or what executing refuses
        if not get and "application/json" not in parse_content_type(request.headers.get("content-type") or "")[0]:
            return None
        try:
            data = params.checked(self.parse_query_params(request.query_params) if get
                                  else self.parse_json(await request.body()))
        except HTTPException:
            return None  # executing says why, as ever
        try:
            resolved: Resolved | DocumentRefused = await self.documents.resolve(data, client=request.state.client)
        except DocumentRefused as exc:  # counted once: executing raises it again, unresolved twice
            resolved = exc
        request.state.parsed = data, resolved
        if isinstance(resolved, DocumentRefused):
            return None
        query, operation_name = resolved.query, data.get("operationName")
        prepared = resolved.prepared or (self.schema.documents.parsed(query) if query else None)
        if query is None or not storable_document(prepared, operation_name):
            return None
        key = request_key(query, operation_name, data.get("variables"), data.get("extensions"), request.method)
        if key is None:
            return None
        answers = self.answers
        assert answers is not None
        request.state.answer_key, request.state.answer_since = key, answers.generation
        found = answers.get(key)
        if found is None:
            return None
        trusted = request.state.trusted = resolved.prepared is not None
        await self._admit(request.method, resolved, operation_name)
        services.offers.offered(found.offered)  # a page offered them (what ghost offers are counted against)
        request.state.stored = operation_name or "anonymous"
        ANSWERS.add(1, (("outcome", "hit"),))
        now = time.monotonic()
        body = found.render(now)
        if request.method == "GET" and self.edge is not None:  # the edge's headers, as executing now would give
            decision = request.state.edge_decision = self.edge.stored(
                trusted=trusted, shown=found.shown, records=found.aged(int((now - found.built_at) * 1000)))
            if decision.public:
                request.state.data = orjson.loads(body)["data"]  # its ETag: over the data as sent
        return Response(body, media_type="application/json")

    def _keep(self, request: Request, response: Response, answers: AnswerStore) -> None:
        """An executed answer to a request the store could keep, kept if the edge's rules allow it."""
        key = getattr(request.state, "answer_key", None)
        if key is None:
            return
        body = getattr(response, "body", None)
        kept = False
        if response.status_code == 200 and isinstance(body, bytes) and body:
            context = getattr(request.state, "bezel", None)
            decision = answers.decide(context, errors=bool(getattr(request.state, "errors", True)))
            kept = context is not None and decision.public and answers.keep(
                key, body, context, decision, since=request.state.answer_since)
        ANSWERS.add(1, (("outcome", "kept" if kept else "passed"),))

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
        data, resolved = await self._parameters(request)
        _REQUEST.get().state.trusted = resolved.prepared is not None  # by the manifest's id: an edge may cache it
        extensions = {k: v for k, v in (data.get("extensions") or {}).items() if not k.startswith("bezel.")}
        prepared = await self._admit(request.method, resolved, data.get("operationName"))
        if prepared is not None:  # parsed once per request, whatever it is: a text refused for its shape too
            extensions[PREPARED] = prepared
        accept = request.headers.get("accept") or ""
        protocol: Any = "http"
        if prepared is not None and prepared.is_subscription(data.get("operationName")):
            protocol = self._live_protocol(accept)
            _REQUEST.get().state.live = True
        elif "multipart/mixed" in accept:
            extensions[INCREMENTAL] = True  # @defer/@stream parts; anyone else gets one JSON answer
        return GraphQLRequestData(query=resolved.query, variables=data.get("variables"),
                                  operation_name=data.get("operationName"), extensions=extensions, protocol=protocol)

    async def _parameters(self, request: AsyncHTTPRequestAdapter) -> tuple[dict[str, Any], Resolved]:
        """The request's parameters and its document: as the answer store read them (`_stored`), or now."""
        parsed: tuple[dict[str, Any], Resolved | DocumentRefused] | None = getattr(_REQUEST.get().state, "parsed",
                                                                                    None)
        if parsed is not None:
            data, found = parsed
            if isinstance(found, DocumentRefused):
                raise found
            return data, found
        if request.method == "GET":
            data = params.checked(self.parse_query_params(request.query_params))
        elif "application/json" in parse_content_type(request.content_type or "")[0]:
            data = params.checked(self.parse_json(await request.get_body()))
        else:
            raise HTTPException(400, "Unsupported content type: send application/json (or GET with parameters)")
        return data, await self.documents.resolve(data, client=_REQUEST.get().state.client)

    def _live_protocol(self, accept: str) -> str:
        """How a subscription's answer streams, as the client asked: multipart (Apollo), else SSE."""
        for name in (MULTIPART_SUBSCRIPTION_PROTOCOL, GRAPHQL_SSE_PROTOCOL):
            transport = self.stream_transport_classes_by_protocol[name]()
            if any(transport.accepts(part.strip()) for part in accept.split(",")):
                return transport.protocol  # what strawberry keys its transports by ("sse" for graphql-sse)
        raise HTTPException(406, "A subscription streams: accept multipart/mixed;subscriptionSpec=1.0 (Apollo "
                            "Client), or text/event-stream (graphql-sse), or use graphql-transport-ws")

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
        request.state.errors, request.state.data = bool(result.errors), result.data  # for an edge (ETag)
        if result.errors:
            result.errors = ensure_coded(result.errors)
        return await super().process_result(request, result)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.page)

