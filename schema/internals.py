"""The ledger of every library internal Bezel reaches into, and its probe, run on import.

Each entry is a debt: a private name, an undocumented hook, a module the library does not export, or
a behaviour of its code Bezel counts on. Any release may move one, so:

- the libraries are pinned to the versions tested (`pyproject.toml`, the internals beside each pin);
- each internal is listed here once: what Bezel's code calls it, where, why, and what is checked;
- `require()` runs when this module is imported (by `schema.bounds`, `schema.fastpath` and
  `gateway.edge.protocol`, so before any of them can run) and names every internal that moved: an
  upgrade fails at startup, loudly, not quietly on a request;
- the shortcut that needs most of them, the fast path, can be switched off (`[gateway] fast_path`),
  and `make test` runs the end-to-end and schema tests both ways.

`tests/schema/test_internals.py` keeps the list honest: every name below appears in the files said to
use it, and every private name Bezel's code reaches for is listed here.

This module is a leaf: it imports nothing of Bezel (the gateway's entries are probed from here too, so
that one list covers the whole process).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any

STRAWBERRY, GRAPHQL_CORE, UVICORN = "strawberry-graphql", "graphql-core", "uvicorn"

_CONTEXT = "strawberry.schema.schema:StrawberryGraphQLCoreExecutionContext"
_RESOLVER = "strawberry.types.fields.resolver:StrawberryResolver"
_CONVERTER = "strawberry.schema.schema_converter:GraphQLCoreConverter"
_VIEW = "strawberry.http.async_base_view:AsyncBaseHTTPView"
_HTTPTOOLS = "uvicorn.protocols.http.httptools_impl:HttpToolsProtocol"

BOUNDS, ROOT, COMMON = "schema/bounds.py", "schema/root.py", "schema/common.py"
CONTEXT, PLANS, DIRECT = "schema/fastpath/context.py", "schema/fastpath/plans.py", "schema/fastpath/direct.py"
PLANNER, CACHES = "schema/fastpath/planner.py", "schema/fastpath/caches.py"
VIEW, TRUSTED = "gateway/view.py", "gateway/documents/trusted.py"
PROTOCOL, RUNNER, CLI = "gateway/edge/protocol.py", "gateway/runner.py", "gateway/cli.py"
LIVE_SOCKET = "gateway/live_socket.py"
LIVE_TRANSPORTS = "gateway/live_transports.py"
SHARED = "schema/shared_events.py"
_WS_HANDLER = "strawberry.subscriptions.protocols.graphql_transport_ws.handlers:BaseGraphQLTransportWSHandler"


@dataclass(frozen=True)
class Internal:
    """One internal: `name` as Bezel's code spells it (in every file of `used_in`), `target` as the probe
    finds it ("module:Attribute.path")."""

    library: str  # the distribution, as pinned in pyproject.toml
    name: str
    target: str
    used_in: tuple[str, ...]
    why: str
    parameters: tuple[str, ...] | None = None  # the target's parameters, exactly and in order
    accepts: tuple[str, ...] = ()  # parameters the target must have, among others
    source: tuple[str, str] | None = None  # ("module:Attribute.path", text) whose code must contain text

    def problem(self) -> str | None:
        """What moved, or None while the library still has this internal as Bezel uses it."""
        try:
            found = _lookup(self.target)
        except (ImportError, AttributeError):
            return f"{self.target} is gone"
        if self.parameters is not None or self.accepts:
            try:
                names = tuple(inspect.signature(found).parameters)
            except (TypeError, ValueError):
                return f"{self.target} has no signature to check"
            if self.parameters is not None and names != self.parameters:
                return f"{self.target}({', '.join(names)}) was ({', '.join(self.parameters)})"
            missing = [p for p in self.accepts if p not in names]
            if missing:
                return f"{self.target} takes no {', '.join(missing)}"
        if self.source is not None:
            where, text = self.source
            try:
                code = inspect.getsource(_lookup(where))
            except (ImportError, AttributeError, OSError, TypeError):
                return f"{where} is gone (or has no source to check)"
            if text not in code:
                return f"{where} no longer does `{text}`"
        return None


def _lookup(target: str) -> Any:
    module, _, path = target.partition(":")
    found: Any = importlib.import_module(module)
    for part in path.split(".") if path else ():
        found = getattr(found, part)
    return found


def _hook(name: str, parameters: tuple[str, ...], used_in: tuple[str, ...], why: str) -> Internal:
    """An execution hook graphql-core's executor calls on itself, overridden or called by Bezel."""
    return Internal(GRAPHQL_CORE, name, f"{_CONTEXT}.{name}", used_in, why, parameters=("self", *parameters))


def _callback(name: str, parameters: tuple[str, ...], why: str, **extra: Any) -> Internal:
    """A method of uvicorn's httptools protocol that `gateway.edge.protocol` overrides."""
    return Internal(UVICORN, name, f"{_HTTPTOOLS}.{name}", (PROTOCOL,), why, parameters=("self", *parameters),
                    **extra)


LEDGER: tuple[Internal, ...] = (
    # strawberry: the execution context, the schema, the field definitions behind each GraphQL field.
    Internal(STRAWBERRY, "StrawberryGraphQLCoreExecutionContext", _CONTEXT, (BOUNDS,),
             "The execution context strawberry hands graphql-core (from a module strawberry does not export): "
             "the bounds and the fast path subclass it."),
    Internal(STRAWBERRY, "operation_extensions", f"{_CONTEXT}.__init__", (BOUNDS,),
             "A request's operation extensions, kept on the context by strawberry: whether the client takes "
             "parts (the budget stop applies only then).",
             source=(f"{_CONTEXT}.__init__", "self.operation_extensions =")),
    Internal(STRAWBERRY, "_get_execute_function", "strawberry.schema.schema:Schema._get_execute_function",
             (ROOT,), "Where strawberry picks graphql-core's execute: overridden so deferred work starts with "
             "the first part (a page's slow vendors are asked when its catalog is).",
             parameters=("self",), source=("strawberry.schema.schema:Schema.execute", "self._get_execute_function(")),
    Internal(STRAWBERRY, "_schema", "strawberry.schema.schema:Schema.__init__", (ROOT, DIRECT, TRUSTED),
             "The graphql-core schema strawberry builds: documents are validated, trusted ones planned, and "
             "direct resolvers installed on it.", source=("strawberry.schema.schema:Schema.__init__",
                                                          "self._schema = GraphQLSchema(")),
    Internal(STRAWBERRY, "schema_converter", "strawberry.schema.schema:Schema.__init__", (DIRECT,),
             "strawberry's converter: its config and scalar registry convert arguments as strawberry would.",
             source=("strawberry.schema.schema:Schema.__init__", "self.schema_converter =")),
    Internal(STRAWBERRY, "scalar_registry", f"{_CONVERTER}.__init__", (DIRECT,),
             "The scalars strawberry knows, to tell a scalar argument (passed through) from an input object.",
             source=(f"{_CONVERTER}.__init__", "self.scalar_registry =")),
    Internal(STRAWBERRY, "DEFINITION_BACKREF", f"{_CONVERTER}.DEFINITION_BACKREF", (PLANS, DIRECT),
             "The key of each GraphQL field's StrawberryField in its extensions: plans and direct resolvers "
             "read the Python definition (attribute, resolver, extensions) from it."),
    Internal(STRAWBERRY, "_get_field_exception_handlers", f"{_CONVERTER}._get_field_exception_handlers", (DIRECT,),
             "A field with exception handlers keeps strawberry's chain (a direct call would skip them).",
             parameters=("self", "field")),
    Internal(STRAWBERRY, "wrapped_func", f"{_RESOLVER}.__init__", (PLANS, DIRECT),
             "The function a resolver wraps: direct resolvers call it, and @prefetched marks sit on it.",
             source=(f"{_RESOLVER}.__init__", "self.wrapped_func")),
    *(Internal(STRAWBERRY, name, f"{_RESOLVER}.{name}", (DIRECT,),
               "Which parameters strawberry binds (self, root, parent, info): direct resolvers bind the same, "
               "and leave any other reserved parameter to strawberry.")
      for name in ("reserved_parameters", "self_parameter", "root_parameter", "parent_parameter", "info_parameter")),
    Internal(STRAWBERRY, "python_name", "strawberry.types.field:StrawberryField.__init__", (PLANS, DIRECT),
             "The Python attribute behind a field: a plain field is read from it directly.",
             accepts=("python_name", "base_resolver", "permission_classes", "extensions")),
    Internal(STRAWBERRY, "is_default_resolver", "strawberry.resolvers:is_default_resolver", (PLANS,),
             "Tells a plain field (strawberry's default resolver) from one with a resolver.",
             parameters=("func",)),
    Internal(STRAWBERRY, "_is_default", "strawberry.resolvers:is_default_resolver", (DIRECT,),
             "The flag is_default_resolver reads: a direct resolver sets it False, as a resolver field's has.",
             source=("strawberry.resolvers:is_default_resolver", '"_is_default"')),
    Internal(STRAWBERRY, "_raw_info", "strawberry.types.info:Info", (DIRECT, COMMON),
             "strawberry's Info wraps graphql-core's ResolveInfo: direct resolvers build it as strawberry does, "
             "and `selects` reads the field's nodes and fragments from it.", parameters=("_raw_info", "_field")),
    Internal(STRAWBERRY, "_field", "strawberry.types.info:Info", (DIRECT,),
             "The field an Info is made for, given as strawberry gives it.", parameters=("_raw_info", "_field")),
    Internal(STRAWBERRY, "wrapped_cls", "strawberry.schema.schema_converter:CustomGraphQLEnumType.__init__",
             (PLANS,), "strawberry's GraphQL enum keeps its Python enum: an enum leaf is serialized by a dict "
             "lookup, to the name strawberry would give it.",
             source=("strawberry.schema.schema_converter:CustomGraphQLEnumType.__init__", "self.wrapped_cls =")),
    Internal(STRAWBERRY, "convert_argument", "strawberry.types.arguments:convert_argument", (DIRECT,),
             "Direct resolvers convert arguments exactly as it does (tests/schema/fastpath/test_direct.py compares "
             "every argument type both ways): when it changes, they must.",
             parameters=("value", "type_", "scalar_registry", "config", "info", "path")),
    Internal(STRAWBERRY, "parse_http_body", f"{_VIEW}.parse_http_body", (VIEW,),
             "Where the view reads a request's GraphQL parameters: replaced to resolve trusted and persisted "
             "documents before anything parses, and to mark multipart requests as taking parts.",
             parameters=("self", "request"), source=(f"{_VIEW}.run", "await self.parse_http_body(")),
    Internal(STRAWBERRY, "_process_stream_result", f"{_VIEW}._process_stream_result", (VIEW,),
             "Where the view frames each incremental part: extended to complete every item's `path` for the "
             "deferSpec=20220824 clients (gateway/edge/part_paths.py).",
             parameters=("self", "request", "value", "all_pending"),
             source=(f"{_VIEW}._stream_result", "await self._process_stream_result(")),
    Internal(STRAWBERRY, "multipart_transport_class", f"{_VIEW}.multipart_transport_class", (VIEW,),
             "The class that frames @defer parts: subclassed to announce deferSpec=20220824, as Apollo Client "
             "and urql expect."),
    Internal(STRAWBERRY, "separator", "strawberry.http.streaming:MultipartTransport.__init__", (LIVE_TRANSPORTS,),
             "The multipart boundary the framing class keeps, named in the announced Content-Type.",
             source=("strawberry.http.streaming:MultipartTransport.__init__", "self.separator =")),
    # strawberry: subscriptions on the view (gateway/view.py, gateway/live_socket.py).
    Internal(STRAWBERRY, "stream_transport_classes_by_protocol", "strawberry.http.base:BaseView."
             "stream_transport_classes_by_protocol", (VIEW,),
             "The HTTP stream transports (multipart subscriptions, SSE) by protocol: replaced per view, to give "
             "each the configured heartbeat ([live] heartbeat_s); strawberry keys its instances by their "
             "`protocol` (\"sse\" for graphql-sse: tests/gateway/test_live_socket.py and the e2e tests run each)."),
    Internal(STRAWBERRY, "graphql_transport_ws_handler_class", f"{_VIEW}.graphql_transport_ws_handler_class", (VIEW,),
             "The graphql-transport-ws handler: subclassed to resolve and admit each subscribe message's document."),
    Internal(STRAWBERRY, "websocket_adapter_class", "strawberry.asgi:GraphQL.websocket_adapter_class", (VIEW,),
             "The WebSocket adapter: subclassed to send text frames (the view's orjson makes bytes)."),
    Internal(STRAWBERRY, "handle_subscribe", f"{_WS_HANDLER}.handle_subscribe", (LIVE_SOCKET,),
             "Where a subscribe message starts an operation: extended to resolve its document first.",
             parameters=("self", "message"), source=(f"{_WS_HANDLER}.handle_message", "await self.handle_subscribe(")),
    *(Internal(STRAWBERRY, name, f"{_WS_HANDLER}.__init__", (LIVE_SOCKET,), why,
               source=(f"{_WS_HANDLER}.__init__", f"self.{name}"))
      for name, why in (("connection_acknowledged", "A subscribe before the ack is left to strawberry (it closes)."),
                        ("operations", "A duplicate id is left to strawberry (it closes)."))),
    Internal(STRAWBERRY, "self.ws", "strawberry.asgi:ASGIWebSocketAdapter.__init__", (LIVE_SOCKET,),
             "The Starlette WebSocket the adapter wraps: text frames are sent on it.",
             source=("strawberry.asgi:ASGIWebSocketAdapter.__init__", "self.ws =")),
    # graphql-core: the executor's own methods (graphql-core 3.3's incremental executor), overridden.
    Internal(GRAPHQL_CORE, "experimental_execute_incrementally", "graphql:experimental_execute_incrementally",
             (ROOT,), "graphql-core's experimental incremental executor, with early execution.",
             accepts=("enable_early_execution",)),
    Internal(GRAPHQL_CORE, "build", f"{_CONTEXT}.build", (BOUNDS,),
             "The executor's constructor: production builds it with hide_suggestions (no \"Did you mean\" "
             "naming the schema, about variables either).", accepts=("hide_suggestions",)),
    _hook("execute_field", ("parent_type", "source", "field_details_list", "path", "position_context"),
          (BOUNDS, CONTEXT), "Every field starts here: a plain field is read directly (fast path), and none "
          "starts past a streamed answer's budget (bounds)."),
    _hook("complete_object_value", ("return_type", "field_details_list", "info", "path", "result",
                                    "position_context"), (CONTEXT,),
          "A resolver's object with a flat selection is built in one step."),
    _hook("complete_list_value", ("return_type", "field_details_list", "info", "path", "result",
                                  "position_context"), (CONTEXT,),
          "A resolver's list of flat objects (a product's variants) is built in one step."),
    _hook("collect_subfields", ("return_type", "field_details_list"), (CONTEXT, PLANNER),
          "The sub-fields graphql-core would collect (its @include/@skip applied): what a flat selection is made "
          "of."),
    _hook("execute_operation", ("serially",), (BOUNDS,),
          "A subscription event's executor runs its operation here: a live product's event runs once for every "
          "subscriber with the same document and variables (schema.shared_events)."),
    Internal(GRAPHQL_CORE, "build_per_event_executor", "graphql.execution.executor:Executor.build_per_event_executor",
             (SHARED,), "Each subscription event gets a copy of the executor whose root_value is the event's payload "
                        "(where a live product's memo is found), with the operation and coerced variable_values "
                        "shared.", source=("graphql.execution.executor:Executor.build_per_event_executor",
                                           "executor.root_value = payload")),
    _hook("handle_field_error", ("raw_error", "return_type", "field_details_list", "path"), (BOUNDS,),
          "A field stopped at the budget is reported as graphql-core reports a field's error."),
    _hook("get_new_delivery_group_map", ("new_defer_usages", "delivery_group_map", "path"), (BOUNDS,),
          "Where deferred fragments become parts: counted against max_incremental_parts."),
    _hook("complete_stream_item", ("item_path", "item", "field_details_list", "info", "item_type"), (BOUNDS,),
          "Each streamed item is a part: counted against max_incremental_parts."),
    Internal(GRAPHQL_CORE, "middleware_manager", "graphql.execution.executor:Executor.__init__", (CONTEXT,),
             "With any middleware the fast path stands aside (it would skip it).",
             source=("graphql.execution.executor:Executor.__init__", "self.middleware_manager")),
    Internal(GRAPHQL_CORE, "field_details_list", "graphql.execution.collect_fields:FieldDetails", (BOUNDS, CONTEXT),
             "graphql-core 3.3 hands the hooks lists of FieldDetails; the field's node is `.node`.",
             source=("graphql.execution.collect_fields:FieldDetails", "node: FieldNode")),
    Internal(GRAPHQL_CORE, "definition", "graphql.execution.collect_fields:FragmentDetails", (CACHES,),
             "graphql-core 3.3 keeps fragments as FragmentDetails, the definition inside: searched for "
             "directives that take variables.",
             source=("graphql.execution.collect_fields:FragmentDetails", "definition: FragmentDefinitionNode")),
    Internal(GRAPHQL_CORE, "collect_fields", "graphql.execution.collect_fields:collect_fields", (PLANNER,),
             "The root fields of a trusted operation, collected as the executor would, to plan it at startup.",
             accepts=("schema", "fragments", "variable_values", "runtime_type", "operation"),
             source=("graphql.execution.collect_fields:CollectedFields", "grouped_field_set")),
    # uvicorn: the HTTP/1.1 protocol (httptools) and the server's signal handling.
    Internal(UVICORN, "HttpToolsProtocol", _HTTPTOOLS, (PROTOCOL,),
             "uvicorn's HTTP/1.1 protocol (a module uvicorn does not document), subclassed to bound each "
             "request's headers in time, size and count."),
    _callback("connection_made", ("transport",), "Arms the first request's header deadline."),
    _callback("connection_lost", ("exc",), "Disarms it."),
    _callback("on_message_begin", (), "Each request on a kept-alive connection gets its own deadline and counts."),
    _callback("on_url", ("url",), "The URL counts towards max_header_bytes."),
    _callback("on_header", ("name", "value"), "Each header counts towards max_header_bytes and max_headers."),
    _callback("on_headers_complete", (), "The headers are in: the deadline is disarmed."),
    _callback("send_400_response", ("msg",),
              "uvicorn answers a parser error (our callback's refusal, raised through httptools) with it: "
              "replaced by the 431 the refusal stands for.",
              source=(f"{_HTTPTOOLS}.data_received", "self.send_400_response(")),
    Internal(UVICORN, "self.loop", f"{_HTTPTOOLS}.__init__", (PROTOCOL,), "The loop the deadlines are set on.",
             source=(f"{_HTTPTOOLS}.__init__", "self.loop =")),
    Internal(UVICORN, "self.cycle", f"{_HTTPTOOLS}.__init__", (PROTOCOL,),
             "The request in progress: a deadline only refuses a connection still reading headers.",
             source=(f"{_HTTPTOOLS}.__init__", "self.cycle")),
    Internal(UVICORN, "response_complete", "uvicorn.protocols.http.httptools_impl:RequestResponseCycle", (PROTOCOL,),
             "Whether the previous request's answer has left (the connection is between requests).",
             source=("uvicorn.protocols.http.httptools_impl:RequestResponseCycle.__init__",
                     "self.response_complete =")),
    Internal(UVICORN, "self.transport", f"{_HTTPTOOLS}.connection_made", (PROTOCOL,),
             "The socket a refusal is written to and closed.",
             source=(f"{_HTTPTOOLS}.connection_made", "self.transport =")),
    Internal(UVICORN, "capture_signals", "uvicorn:Server.capture_signals", (RUNNER,),
             "uvicorn installs signal handlers per server: a no-op here, `serve_all` handles them once for all.",
             parameters=("self",), source=("uvicorn:Server.serve", "self.capture_signals()")),
    *(Internal(UVICORN, name, "uvicorn:Server.__init__", (where,), why,
               source=("uvicorn:Server.__init__", f"self.{name} ="))
      for name, where, why in (
          ("should_exit", RUNNER, "Set to stop a server (what uvicorn's own signal handler would do)."),
          ("force_exit", RUNNER, "Set on a second Ctrl-C: stop without waiting for open connections."),
          ("started", CLI, "Read until every server listens (uvicorn has no event to wait on)."))),
)


def problems(ledger: tuple[Internal, ...] = LEDGER) -> list[str]:
    """Every internal of `ledger` that moved, each described."""
    return [f"{internal.library}: {internal.name} ({found})" for internal in ledger
            if (found := internal.problem()) is not None]


def require(ledger: tuple[Internal, ...] = LEDGER) -> None:
    """ImportError naming every internal that moved: the process must not start on a library it was not
    tested with."""
    found = problems(ledger)
    if found:
        raise ImportError(f"Bezel relies on {len(found)} library internal(s) that changed: " + "; ".join(found)
                          + ". Pin the library back (pyproject.toml) or update the code that uses them "
                          "(schema/internals.py lists where).")


require()
