"""The request body (`gateway.edge.body.BodyReader`): read whole before the app runs, within a size (413) and a
time (408), the connection closed after either; a client that leaves mid-body reaches nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from gateway.edge.body import BodyReader

Message = dict[str, Any]


class App:
    """Reads the body as an app does, then answers 200 with it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.after: list[Message] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            self.bodies.append(scope["type"].encode())
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        if scope["path"] == "/then-wait":
            self.after.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


async def run(reader: BodyReader, messages: list[Message], *, method: str = "POST", path: str = "/graphql",
              headers: list[tuple[bytes, bytes]] = ()) -> tuple[int | None, dict[bytes, bytes], bytes, int]:
    """(status, headers, body) sent, and how many messages were taken; past `messages`, receive never returns."""
    queue = list(messages)
    taken = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal taken
        if not queue:
            await asyncio.Event().wait()
        taken += 1
        return queue.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": list(headers)}
    await asyncio.wait_for(reader(scope, receive, send), timeout=10)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return (start and start["status"], dict(start["headers"]) if start else {}, body, taken)


def chunks(*parts: bytes) -> list[Message]:
    return [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]


def reader(app: App, **kwargs: Any) -> BodyReader:
    return BodyReader(app, **{"limit": 10, "timeout_s": 5.0, **kwargs})


def code(body: bytes) -> str:
    return orjson.loads(body)["errors"][0]["extensions"]["code"]


async def test_a_body_in_chunks_reaches_the_app_whole_then_the_connection_s_next_message() -> None:
    app = App()
    status, _, body, _ = await run(reader(app), [*chunks(b"0123", b"", b"456789"), {"type": "http.disconnect"}],
                                   path="/then-wait")
    assert (status, body, app.bodies) == (200, b"0123456789", [b"0123456789"])
    assert app.after == [{"type": "http.disconnect"}]


@pytest.mark.parametrize("declared", [b"11", b"99999999999999999999", b"-1", b"ten", b"1e1", b""])
async def test_a_declared_length_over_the_limit_or_unreadable_is_413_before_reading(declared: bytes) -> None:
    app = App()
    status, headers, body, taken = await run(reader(app), chunks(b"x"), headers=[(b"content-length", declared)])
    assert (status, code(body), headers[b"connection"]) == (413, "PAYLOAD_TOO_LARGE", b"close")
    assert (taken, app.bodies) == (0, [])


async def test_a_streamed_body_over_the_limit_is_413_and_the_app_never_runs() -> None:
    app = App()
    status, headers, body, _ = await run(reader(app), chunks(b"0123456", b"7890", b"never read"))
    assert (status, code(body), headers[b"connection"]) == (413, "PAYLOAD_TOO_LARGE", b"close")
    assert app.bodies == []
    status, _, _, _ = await run(reader(app), chunks(b"01234", b"56789"))  # exactly the limit is fine
    assert status == 200


async def test_a_body_still_arriving_after_the_timeout_is_408_and_closes() -> None:
    app = App()
    status, headers, body, _ = await run(reader(app, timeout_s=0.05), [{"type": "http.request", "body": b"{",
                                                                       "more_body": True}])
    assert (status, code(body), headers[b"connection"]) == (408, "REQUEST_TIMEOUT", b"close")
    assert app.bodies == []


async def test_a_client_that_leaves_mid_body_reaches_nothing_and_is_sent_nothing() -> None:
    app = App()
    status, _, _, _ = await run(reader(app), [*chunks(b"abc", b"def")[:1], {"type": "http.disconnect"}])
    assert (status, app.bodies) == (None, [])


async def test_a_larger_path_gets_its_own_limit_and_only_it() -> None:
    app = App()
    webhooks = reader(app, larger={"/webhooks/": 100})
    status, _, body, _ = await run(webhooks, chunks(b"x" * 50), path="/webhooks/shopify")
    assert (status, body) == (200, b"x" * 50)
    for path in ("/graphql", "/static/webhooks/x"):
        status, _, _, _ = await run(webhooks, chunks(b"x" * 50), path=path)
        assert status == 413
    status, _, _, _ = await run(webhooks, chunks(b"x" * 101), path="/webhooks/shopify")
    assert status == 413


async def test_bodyless_methods_and_other_scopes_pass_straight_through() -> None:
    app = App()
    status, _, _, taken = await run(reader(app), chunks(b"x" * 50), method="GET",
                                    headers=[(b"content-length", b"50")])
    assert (status, taken) == (200, 1)  # the app, not the reader, read it: no 413
    await reader(app)({"type": "lifespan"}, None, None)
    assert app.bodies[-1] == b"lifespan"
