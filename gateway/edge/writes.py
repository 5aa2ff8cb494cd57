"""A request's shared-tier writes, sent with its answer (`connectors.sharedwrites`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.types import Message, Send

from connectors.sharedwrites import deferred_writes


@contextlib.asynccontextmanager
async def writes_with_each_part(send: Send) -> AsyncIterator[Send]:
    """`send`, for an HTTP request whose shared-tier writes (answers, leases let go) queue until its answer
    is sent and then go in one round trip: just before the last part (so once a client has its answer,
    every process sees what it stored: the next page, on any process, is served from it), and after each
    earlier part of a streamed answer (@defer parts, a subscription's messages), so nothing waits for
    the stream to end. What is still queued when the request ends goes then."""
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

        yield sending
