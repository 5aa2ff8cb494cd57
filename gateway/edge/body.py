"""The whole request body, read before anything else runs: within a size and within a time.

A request counts as in flight (toward `max_in_flight`) only once this has its body: a client that
sends its body slowly, or never, holds no slot a shopper needs. Beyond `limit` bytes (declared or
streamed) the answer is 413; a body still arriving after `timeout_s` is a 408 and the connection is
closed. The app then reads the body as usual, from memory.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.edge.responses import error_response
from gateway.errors import BodyTooLarge
from schema.refusals import REFUSED

_BODYLESS = {"GET", "HEAD", "OPTIONS"}


class BodyReader:
    def __init__(self, app: ASGIApp, *, limit: int, timeout_s: float, larger: dict[str, int] | None = None) -> None:
        """`larger`: path prefixes whose bodies may be larger than `limit` (a webhook's product JSON)."""
        self.app = app
        self.limit = limit
        self.timeout_s = timeout_s
        self.larger = larger or {}

    def limit_for(self, path: str) -> int:
        return next((size for prefix, size in self.larger.items() if path.startswith(prefix)), self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"]) if self.larger else self.limit
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(scope, receive, send, limit)
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await self._read(receive, limit)
        except BodyTooLarge:
            await self._too_large(scope, receive, send, limit)
            return
        except TimeoutError:
            REFUSED.add(1, (("reason", "body_timeout"),))
            response = error_response(408, f"The request body did not arrive within {self.timeout_s:g} s.",
                                      "REQUEST_TIMEOUT")
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return
        if body is None:  # the client went away while sending
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive, limit: int) -> bytes | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        REFUSED.add(1, (("reason", "body_too_large"),))
        response = error_response(413, f"Request body is larger than {limit} bytes.", "PAYLOAD_TOO_LARGE")
        response.headers["connection"] = "close"
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then whatever the connection says next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
