"""Subscription clients for the tests, as the wire formats define them: graphql-sse (distinct connections)
and Apollo's multipart HTTP subscriptions, each read off a real HTTP stream."""

from __future__ import annotations

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
