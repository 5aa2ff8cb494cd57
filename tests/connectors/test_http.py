"""VendorClient turns every transport failure and bad body into one of our errors."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from connectors import tax
from connectors.errors import (
    VendorBadResponse,
    VendorConnectionError,
    VendorHTTPError,
    VendorRateLimited,
    VendorRejectedInput,
    VendorTimeout,
)
from connectors.http import MAX_FOLLOW_UPS, Continue, VendorCall, VendorClient, VendorRequest
from tests.connectors.helpers import BASE, execute


def _call(parse=lambda body: body["ok"]) -> VendorCall[object]:
    return VendorCall("tax", "tax.quote", VendorRequest("POST", "/v2/taxes", json={"amount": "1.00"}), parse)


@pytest.mark.parametrize(
    ("side_effect", "error"),
    [
        (httpx.ConnectError("refused"), VendorConnectionError),
        (httpx.RemoteProtocolError("peer closed connection"), VendorConnectionError),
        (httpx.ReadError("connection reset by peer"), VendorConnectionError),
        (httpx.ReadTimeout("slow"), VendorTimeout),
    ],
)
@respx.mock(base_url=BASE, using="httpx")
async def test_transport_failures_become_vendor_errors(respx_mock, side_effect, error) -> None:
    respx_mock.post("/v2/taxes").mock(side_effect=side_effect)
    with pytest.raises(error) as caught:
        await execute(tax, _call())
    assert caught.value.vendor == "tax"
    assert isinstance(caught.value.__cause__, httpx.HTTPError)


@respx.mock(base_url=BASE, using="httpx")
async def test_bodies_that_are_not_json_or_not_the_shape_are_bad_responses(respx_mock) -> None:
    route = respx_mock.post("/v2/taxes")
    route.mock(return_value=httpx.Response(200, content=b'{"tax": {"amount'))
    with pytest.raises(VendorBadResponse, match="not JSON"):
        await execute(tax, _call())
    route.mock(return_value=httpx.Response(200, content=b"<html>502</html>"))
    with pytest.raises(VendorBadResponse):
        await execute(tax, _call())
    route.mock(return_value=httpx.Response(200, json={"unexpected": True}))
    with pytest.raises(VendorBadResponse, match="does not match the API"):
        await execute(tax, _call())


@respx.mock(base_url=BASE, using="httpx")
async def test_429_carries_retry_after_in_seconds_or_as_a_date(respx_mock) -> None:
    route = respx_mock.post("/v2/taxes")
    body = {"error": "Too Many Requests", "detail": "slow down", "status": 429}
    route.mock(return_value=httpx.Response(429, json=body, headers={"retry-after": "7"}))
    with pytest.raises(VendorRateLimited) as caught:
        await execute(tax, _call())
    assert caught.value.retry_after_s == 7
    route.mock(return_value=httpx.Response(429, json=body, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    with pytest.raises(VendorRateLimited) as caught:
        await execute(tax, _call())
    assert caught.value.retry_after_s == 0  # a date in the past: retry now


@respx.mock(base_url=BASE, using="httpx")
async def test_error_statuses_with_unreadable_bodies_are_still_typed(respx_mock) -> None:
    respx_mock.post("/v2/taxes").mock(return_value=httpx.Response(502, content=b"Bad Gateway"))
    with pytest.raises(VendorHTTPError) as caught:
        await execute(tax, _call())
    assert caught.value.status == 502
    assert not isinstance(caught.value, VendorRejectedInput)


@respx.mock(base_url=BASE, using="httpx")
async def test_a_missing_ok_call_answers_none_on_404(respx_mock) -> None:
    respx_mock.get("/thing").mock(return_value=httpx.Response(404, json={"error": "Not Found", "detail": "",
                                                                          "status": 404}))
    call = VendorCall("tax", "tax.thing", VendorRequest("GET", "/thing"), lambda b: b, missing_ok=True)
    assert await execute(tax, call) is None
    with pytest.raises(VendorHTTPError):
        await execute(tax, VendorCall("tax", "tax.thing", VendorRequest("GET", "/thing"), lambda b: b))


@respx.mock(base_url=BASE, using="httpx")
async def test_a_call_whose_answer_takes_more_requests_is_still_one_call(respx_mock) -> None:
    """`Continue` sends the next page under the same call: one answer, each request's errors mapped alike."""
    route = respx_mock.post("/v2/taxes").mock(side_effect=[httpx.Response(200, json={"page": 1}),
                                                           httpx.Response(200, json={"page": 2})])
    follow = VendorRequest("POST", "/v2/taxes", json={"after": 1})

    def first(body: dict) -> object:
        return Continue(follow, lambda second: [body["page"], second["page"]])

    assert await execute(tax, _call(first)) == [1, 2]
    assert route.calls[1].request.content == b'{"after":1}'
    route.mock(side_effect=[httpx.Response(200, json={"page": 1}), httpx.Response(500, json={"error": "x"})])
    with pytest.raises(VendorHTTPError):
        await execute(tax, _call(first))


@respx.mock(base_url=BASE, using="httpx")
async def test_a_parser_that_never_stops_asking_is_a_bad_response(respx_mock) -> None:
    route = respx_mock.post("/v2/taxes").mock(return_value=httpx.Response(200, json={}))

    def forever(_: object) -> object:
        return Continue(VendorRequest("POST", "/v2/taxes"), forever)

    with pytest.raises(VendorBadResponse, match="not whole"):
        await execute(tax, _call(forever))
    assert route.call_count == MAX_FOLLOW_UPS


def test_cache_keys_follow_what_is_sent_and_nothing_else() -> None:
    def key(**json: object) -> str:
        return VendorCall("tax", "tax.quote", VendorRequest("POST", "/v2/taxes", json=json,
                                                            headers={"traceparent": "x"}), lambda b: b).cache_key

    assert key(to_zip="10001", amount="1") == key(amount="1", to_zip="10001")
    assert key(to_zip="10001", amount="1") != key(to_zip="10002", amount="1")


# The same failures over real sockets, through the aiohttp transport the gateway ships with.

async def _raw_server(handle) -> tuple[asyncio.AbstractServer, str]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def _over_the_wire(base: str) -> object:
    client = VendorClient("tax", base, read_error=tax.read_error)
    try:
        return await client.execute(_call())
    finally:
        await client.aclose()


async def test_a_refused_connection_is_a_connection_error_not_a_timeout() -> None:
    server, base = await _raw_server(lambda reader, writer: writer.close())
    server.close()
    await server.wait_closed()  # nothing listens on that port any more
    with pytest.raises(VendorConnectionError, match="ClientConnectorError"):
        await _over_the_wire(base)


@pytest.mark.parametrize("reply", [
    # an answer cut off: the connection closes 96 bytes short of its content-length
    b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"ok',
    b"SSH-2.0-OpenSSH_9.2\r\n\r\n",  # not HTTP at all
], ids=["dropped-mid-answer", "not-http"])
async def test_a_broken_answer_on_the_wire_is_a_connection_error(reply: bytes) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    server, base = await _raw_server(answer)
    async with server:
        with pytest.raises(VendorConnectionError):
            await _over_the_wire(base)


async def test_a_real_answer_over_the_wire_is_parsed_and_the_connection_kept() -> None:
    connections = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n"
                         b'{"ok": "y"}')
            await writer.drain()

    server, base = await _raw_server(answer)
    async with server:
        client = VendorClient("tax", base, read_error=tax.read_error)
        try:
            assert [await client.execute(_call()) for _ in range(3)] == ["y", "y", "y"]
        finally:
            await client.aclose()
    assert connections == 1  # kept alive, reused
