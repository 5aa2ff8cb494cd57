"""How streamed answers are framed over HTTP: @defer parts as Apollo Client and urql expect them, and the
stream transports subscriptions take (Apollo's multipart, graphql-sse), each message framed once for all
its subscribers (`gateway.live_encoding`). The view (`gateway.view`) hands strawberry these classes."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any

from strawberry.http import GraphQLHTTPResponse
from strawberry.http.streaming import (
    MULTIPART_SUBSCRIPTION_BOUNDARY,
    HTTPStreamTransport,
    JSONEncoder,
    MultipartSubscriptionTransport,
    MultipartTransport,
    SSETransport,
)
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL

from gateway.live_encoding import EncodedOnce


class IncrementalParts(MultipartTransport):
    """@defer/@stream parts as strawberry frames them, announced the way Apollo Client and urql expect."""

    @property
    def headers(self) -> Mapping[str, str]:
        return {"Content-Type": f'multipart/mixed; boundary="{self.separator}"; deferSpec=20220824'}


def live_transports(heartbeat_s: float) -> dict[str, type[HTTPStreamTransport]]:
    """The HTTP stream transports subscriptions take, each with the configured heartbeat (`[live]`)."""

    multipart, sse = EncodedOnce(), EncodedOnce()  # each message's framing, once for all its subscribers

    class Multipart(MultipartSubscriptionTransport):
        """Framed as Apollo Router frames it (`opened` adds the stream's opening delimiter): each part ends
        in the next delimiter, so a reader hands it on at once, and the last delimiter is closed with
        "--" (strawberry's "\r\n--graphql--\r\n" after it would add an empty part without headers).
        The first part is the first state, not a heartbeat: urql 6 takes the first part it reads for a
        result and fails one without data ("No Content"); heartbeats follow every `heartbeat_s`."""

        heartbeat_interval = heartbeat_s
        send_initial_heartbeat = False

        def encode_next(self, response: GraphQLHTTPResponse, encode_json: JSONEncoder) -> str:
            return multipart.framed(response, lambda: super(Multipart, self).encode_next(response, encode_json))

        def encode_complete(self) -> str:
            return "--\r\n"

    class ServerSentEvents(SSETransport):
        """Lines end in LF: the SSE spec allows CRLF too, but urql 6's fetchSubscriptions splits events
        on a blank line written as "\\n\\n" and read nothing from strawberry's CRLF."""

        def __init__(self) -> None:
            super().__init__(heartbeat_s)

        def encode_next(self, response: GraphQLHTTPResponse, encode_json: JSONEncoder) -> str:
            return sse.framed(response, lambda: super(ServerSentEvents, self).encode_next(response, encode_json))

        def encode_event(self, event: str, data: str | None = None) -> str:
            return super().encode_event(event, data).replace("\r\n", "\n")

        def encode_comment(self, comment: str) -> str:
            return f": {comment}\n\n"

    return {MULTIPART_SUBSCRIPTION_PROTOCOL: Multipart, GRAPHQL_SSE_PROTOCOL: ServerSentEvents}


MULTIPART_OPENING = f"\r\n--{MULTIPART_SUBSCRIPTION_BOUNDARY}"


def opened(stream: Callable[[], AsyncIterator[str]]) -> Callable[[], AsyncIterator[str]]:
    """A multipart subscription stream that starts with its delimiter. strawberry ends each part with the
    delimiter but opens with none: a reader that follows RFC 2046 (meros, Apollo Client's) takes all
    before the first delimiter as preamble, so the first part was lost, harmlessly only while it was the
    initial heartbeat. Opened, the first part is a part whatever it is (the first state, or a heartbeat)."""

    async def with_opening() -> AsyncGenerator[str, None]:
        chunks: AsyncIterator[str] = aiter(stream())
        try:
            first = await anext(chunks, None)
            yield MULTIPART_OPENING + (first if first is not None else "--\r\n")
            async for chunk in chunks:
                yield chunk
        finally:
            close: Callable[[], Any] | None = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    return with_opening
