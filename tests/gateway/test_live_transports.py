"""The HTTP stream transports subscriptions take: graphql-sse's events are read as urql 6's
fetchSubscriptions reads them (split on "\\n\\n"), heartbeats included; Apollo's multipart subscriptions
as RFC 2046 (meros, Apollo Client) reads them, the first part a part whatever comes first."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import orjson
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL

from gateway.live_encoding import EncodedOnce
from gateway.live_transports import live_transports, opened
from tests.multipart import strict_parts


def _encode(value: object) -> str:
    return orjson.dumps(value).decode()


def test_a_graphql_sse_stream_splits_into_its_events_on_a_blank_lf_line() -> None:
    """Every event and heartbeat ends in "\\n\\n" and carries no CR, so a reader splitting on "\\n\\n" sees each."""
    sse = live_transports(5.0)[GRAPHQL_SSE_PROTOCOL]()
    stream = "".join([sse.heartbeat_message(_encode), sse.encode_next({"data": {"a": 1}}, _encode),
                      sse.encode_next({"data": {"a": 2}}, _encode), sse.encode_complete()])
    assert "\r" not in stream
    blocks = stream.split("\n\n")
    assert blocks[-1] == ""  # the stream ends with a whole event
    comments = [b for b in blocks[:-1] if b.startswith(":")]
    events = [dict(line.split(": ", 1) for line in b.split("\n")) for b in blocks[:-1] if not b.startswith(":")]
    assert comments == [": ping"]
    assert [e["event"] for e in events] == ["next", "next", "complete"]
    assert [json.loads(e["data"]) for e in events[:2]] == [{"data": {"a": 1}}, {"data": {"a": 2}}]


def test_a_message_s_data_is_framed_once_for_every_subscriber_it_reaches() -> None:
    """The same data object framed once; new data, or a message with errors (per subscriber), framed again."""
    encoded = EncodedOnce(size=2)
    frames: list[str] = []

    def frame(text: str) -> Callable[[], str]:
        return lambda: frames.append(text) or text

    shared = {"productChanged": {"handle": "ring"}}
    assert [encoded.framed({"data": shared}, frame("a")) for _ in range(3)] == ["a"] * 3
    assert encoded.framed({"data": dict(shared)}, frame("b")) == "b"  # equal, but another event's
    assert encoded.framed({"data": shared, "errors": []}, frame("c")) == "c"
    assert encoded.framed({"data": shared, "extensions": {"vendors": {"tax": "live"}}}, frame("x")) == "x"
    assert encoded.framed({"data": None}, frame("d")) == "d"
    assert frames == ["a", "b", "c", "x", "d"]
    encoded.framed({"data": {}}, frame("e"))  # past its size the oldest is forgotten
    assert encoded.framed({"data": shared}, frame("a2")) == "a2"
    assert encoded.framed({"data": shared}, frame("a3")) == "a2"


async def test_a_multipart_subscription_s_first_state_is_a_part_even_with_no_heartbeat_before_it() -> None:
    """The stream opens with its delimiter: a strict reader takes the first state as a part (not preamble)
    when it comes before any heartbeat, and the stream closes with "--graphql--" and no empty part."""
    multipart = live_transports(5.0)[MULTIPART_SUBSCRIPTION_PROTOCOL]()

    async def chunks() -> AsyncIterator[str]:  # the first state before any heartbeat
        yield multipart.encode_next({"data": {"a": 1}}, _encode)
        yield multipart.heartbeat_message(_encode)
        yield multipart.encode_next({"data": {"a": 2}}, _encode)
        yield multipart.encode_complete()

    body = "".join([chunk async for chunk in opened(chunks)()])
    found, preamble = strict_parts(body, multipart.headers["Content-Type"])
    assert found == [{"payload": {"data": {"a": 1}}}, {}, {"payload": {"data": {"a": 2}}}]
    assert preamble == "\r\n"
    assert body.endswith("\r\n--graphql--\r\n")
    assert body.count("--graphql--") == 1


async def test_a_multipart_subscription_that_ends_before_any_part_is_closed_at_once() -> None:
    """Nothing but the end (a stream that completes at once): one close delimiter, no part."""
    multipart = live_transports(5.0)[MULTIPART_SUBSCRIPTION_PROTOCOL]()

    async def chunks() -> AsyncIterator[str]:
        yield multipart.encode_complete()

    body = "".join([chunk async for chunk in opened(chunks)()])
    assert body == "\r\n--graphql--\r\n"
    assert strict_parts(body, multipart.headers["Content-Type"]) == ([], "\r\n")
