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
        self._opened = False
        self.preamble = ""  # multipart: what came before the first delimiter (a reader drops it)

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
        # Strictly, as RFC 2046, meros and Apollo Client read it: all before the first delimiter
        # ("--graphql" at the start or after a CRLF) is preamble, never a part; a part is handed on once
        # the next delimiter arrives; "--graphql--" ends the stream.
        dash = "--graphql"
        if not self._opened:
            at = 0
            if not self._buffer.startswith(dash):
                at = self._buffer.find("\r\n" + dash) + 2
                if at < 2:
                    return None
            self.preamble, self._buffer = self._buffer[:at], self._buffer[at + len(dash):]
            self._opened = True
        if len(self._buffer) < 2:
            return None
        if self._buffer.startswith("--"):
            self._buffer = ""
            return "complete", None
        end = self._buffer.find("\r\n" + dash)
        if end < 0:
            return None
        part, self._buffer = self._buffer[:end], self._buffer[end + 2 + len(dash):]
        assert part.startswith("\r\n"), f"a delimiter line that does not end: {part[:80]!r}"
        head, _, body = part[2:].partition("\r\n\r\n")
        assert "content-type: application/json" in head.lower(), head
        message = json.loads(body)
        if message == {}:
            return "heartbeat", None
        return "next", message.get("payload", message)  # transport-level errors come as {"errors": [...]}


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
