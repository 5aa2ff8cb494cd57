"""graphql-transport-ws for live pages: strawberry's handler, with each subscribe message's document
resolved and admitted as an HTTP request's is (trusted documents, persisted queries, budgets).

Only subscriptions run over a WebSocket: a query or a mutation there would escape the in-flight limit
and the request's budget, so it is refused (an `error` message naming HTTP). A refused document is an
`error` message for that operation id; the connection stays open for the others.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, Protocol

import orjson
from cross_web import HTTPException
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from gateway.errors import DocumentRefused
from gateway.live_encoding import EncodedOnce
from resolvers.context import RequestContext


class Admission(Protocol):
    """What the socket asks of the view (`gateway.view.BezelGraphQL`) for each subscribe message."""

    async def resolve_subscription(self, data: dict[str, Any], context: RequestContext) -> str | None: ...


class TextFrames(ASGIWebSocketAdapter):
    """Every message a text frame, as the protocol has them (the view's JSON encoder makes bytes, which
    strawberry would send as binary frames: a browser's graphql-ws client cannot read those)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        payload = message.get("payload")
        encoded = getattr(self.view, "socket_payloads", None)
        if message.get("type") == "next" and isinstance(payload, Mapping) and isinstance(encoded, EncodedOnce):
            # The payload's encoding once for every subscriber of the same data (`gateway.live_encoding`).
            text = encoded.framed(payload, lambda: orjson.dumps(payload).decode())
            text = f'{{"id":{orjson.dumps(message["id"]).decode()},"type":"next","payload":{text}}}'
        else:
            text = orjson.dumps(message).decode()
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                try:
                    yield orjson.loads(text)
                except orjson.JSONDecodeError as exc:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
        except KeyError as exc:  # a binary frame
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass


class LiveSocket(BaseGraphQLTransportWSHandler[RequestContext, None]):
    view: Admission  # type: ignore[assignment]  # strawberry types it as its own view

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # strawberry closes the socket as the protocol says
            return
        payload: dict[str, Any] = dict(message["payload"])
        try:
            query = await self.view.resolve_subscription(payload, self.context)
        except DocumentRefused as exc:
            await self._refuse(message["id"], exc.message, exc.code)
            return
        except HTTPException as exc:
            await self._refuse(message["id"], exc.reason, "BAD_REQUEST")
            return
        payload["query"] = query
        await super().handle_subscribe({"id": message["id"], "type": "subscribe",
                                        "payload": payload})  # type: ignore[typeddict-item]

    async def _refuse(self, operation_id: str, message: str, code: str) -> None:
        await self.send_message({"id": operation_id, "type": "error",
                                 "payload": [{"message": message, "extensions": {"code": code}}]})
