"""Subscription clients for the tests, as the wire formats define them: graphql-sse (distinct connections)
and Apollo's multipart HTTP subscriptions, each read off a real HTTP stream, and graphql-transport-ws over
a real WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

SSE_ACCEPT = "text/event-stream"
MULTIPART_ACCEPT = 'multipart/mixed;subscriptionSpec="1.0", application/json'


@contextlib.asynccontextmanager
async def subscribe(http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, *,
                    accept: str = SSE_ACCEPT, **body: Any) -> AsyncIterator[Stream]:
    """POST the subscription and read its stream (`Stream.next()`: each message's payload)."""
    payload = {"query": query, "variables": variables or {}, **body}
    async with http.stream("POST", "/graphql", json=payload, headers={"accept": accept}) as response:
        yield Stream(response)


class Stream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.multipart = "multipart/mixed" in response.headers.get("content-type", "")
        self.heartbeats = 0
        self.ended = False
        self._chunks = response.aiter_text()
        self._buffer = ""

    async def next(self) -> dict[str, Any] | None:
        """The next message's payload ({data, errors}); None once the stream completed."""
        while True:
            message = self._take()
            if message is not None:
                kind, payload = message
                if kind == "heartbeat":
                    self.heartbeats += 1
                    continue
                if kind == "complete":
                    self.ended = True
                    return None
                return payload
            try:
                self._buffer += await self._chunks.__anext__()
            except StopAsyncIteration:
                self.ended = True
                return None

    async def all(self) -> list[dict[str, Any]]:
        found = []
        while (message := await self.next()) is not None:
            found.append(message)
        return found

    def _take(self) -> tuple[str, Any] | None:
        return self._take_part() if self.multipart else self._take_event()

    def _take_event(self) -> tuple[str, Any] | None:
        # As urql 6's fetchSubscriptions reads it: events end in "\n\n" (a CRLF stream would never match).
        if "\n\n" not in self._buffer:
            return None
        block, self._buffer = self._buffer.split("\n\n", 1)
        assert "\r" not in block, f"SSE lines end in LF: {block!r}"
        if block.startswith(":"):
            return "heartbeat", None
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if fields.get("event") == "complete":
            return "complete", None
        return "next", json.loads(fields["data"])

    def _take_part(self) -> tuple[str, Any] | None:
        # Each part ends in the boundary: "\r\nContent-Type: ...\r\n\r\n<json>\r\n--graphql"; the last
        # is "--graphql--". (strawberry sends no boundary before the first part: Apollo Client reads it so.)
        while True:
            if self._buffer.lstrip("\r\n").startswith("--"):  # what follows the last boundary: the end
                self._buffer = ""
                return "complete", None
            cut = self._buffer.find("--graphql")
            if cut < 0:
                return None
            segment, self._buffer = self._buffer[:cut], self._buffer[cut + len("--graphql"):]
            if "\r\n\r\n" not in segment:
                continue  # the opening boundary of a stream that sends one
            body = segment.split("\r\n\r\n", 1)[1].strip()
            part = json.loads(body)
            if part == {}:
                return "heartbeat", None
            return "next", part.get("payload", part)  # transport-level errors come as {"errors": [...]}


@contextlib.asynccontextmanager
async def socket(url: str, *, headers: dict[str, str] | None = None, **connect: Any) -> AsyncIterator[Socket]:
    """A graphql-transport-ws connection (the `websockets` client), acknowledged."""
    from websockets.asyncio.client import connect as ws_connect

    async with ws_connect(url, subprotocols=[GRAPHQL_TRANSPORT_WS], additional_headers=headers or {},
                          open_timeout=10, **connect) as ws:
        session = Socket(ws)
        await session.send({"type": "connection_init"})
        assert await session.receive() == {"type": "connection_ack"}
        yield session


GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"


class Socket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, within_s: float = 10.0) -> dict[str, Any]:
        """The next message that is not a ping or pong of the protocol's own."""
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), within_s))
            if message.get("type") not in ("ping", "pong"):
                return message

    async def subscribe(self, operation_id: str, query: str | None = None, variables: dict[str, Any] | None = None,
                        **payload: Any) -> None:
        body = {**({"query": query} if query is not None else {}), "variables": variables or {}, **payload}
        await self.send({"id": operation_id, "type": "subscribe", "payload": body})

    async def until_complete(self, operation_id: str, within_s: float = 10.0) -> list[dict[str, Any]]:
        """Every `next` payload (and `error` message) for the operation, up to its `complete` or `error`."""
        found = []
        while True:
            message = await self.receive(within_s)
            if message.get("id") != operation_id:
                continue
            if message["type"] == "complete":
                return found
            found.append(message)
            if message["type"] == "error":
                return found
