"""A request's shared-tier writes, sent with its answer (`connectors.sharedwrites`)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.sharedwrites import deferred_writes


class WritesWithEachPart:
    """What a request stores in Redis (answers, leases let go) goes in one round trip as its answer is
    sent: just before the last part (so once a client has its answer, every process sees what it stored:
    the next page, on any process, is served from it), and after each earlier part of a streamed answer
    (@defer parts, a subscription's messages), so nothing waits for the stream to end."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with deferred_writes() as batch:

            async def sending(message: Message) -> None:
                if message["type"] != "http.response.body" or not batch.queued:
                    await send(message)
                elif message.get("more_body", False):
                    await send(message)
                    await batch.flush()
                else:
                    await batch.flush()
                    await send(message)

            await self.app(scope, receive, sending)
