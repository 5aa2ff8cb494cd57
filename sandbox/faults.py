"""Latency and fault injection for the sandbox's vendors, and the call counter tests read.

Every vendor's routes sit behind a `VendorGate`: it counts the call, remembers its trace headers,
waits the vendor's usual latency plus any injected delay, then applies the vendor's fault, if one
is set and the dice (`error_rate`) say so: hang, an error status with the provider's error body,
a connection reset, or a malformed body.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Fault(BaseModel):
    """What to do to a vendor's calls. Every field is optional; `{}` means healthy."""

    model_config = ConfigDict(extra="forbid")

    delay_ms: int = Field(default=0, ge=0, le=600_000)  # added to the vendor's usual latency
    jitter_ms: int = Field(default=0, ge=0, le=600_000)  # +/- uniformly around delay_ms
    hang: bool = False  # never answer (until the client gives up)
    status: int | None = Field(default=None, ge=400, le=599)  # answer with this error status
    retry_after_s: int | None = Field(default=None, ge=0)  # sent as Retry-After with `status`
    error_rate: float = Field(default=1.0, ge=0, le=1)  # share of calls that get the failure
    reset: bool = False  # drop the connection with a TCP reset
    # true or "json": truncated JSON; "schema": valid JSON of the wrong shape; "html": a proxy's page
    malformed: bool | Literal["json", "schema", "html"] = False
    # Apply to the next `times` calls only (those the dice pick), then heal. None: until cleared.
    times: int | None = Field(default=None, ge=1)

    @property
    def fails(self) -> bool:
        return self.hang or self.status is not None or self.reset or bool(self.malformed)


class Latency(BaseModel):
    """A vendor's usual response time: mean and +/- jitter, in milliseconds."""

    model_config = ConfigDict(extra="forbid")

    mean_ms: float = Field(ge=0)
    jitter_ms: float = Field(default=0, ge=0)

    def sample(self, rng: random.Random, scale: float) -> float:
        spread = rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return max(0.0, (self.mean_ms + spread) * scale) / 1000


HANG_LIMIT_S = 600.0
RAW_SEND_KEY = "bezel.sandbox.raw_send"


@dataclass
class RecordedRequest:
    at: float
    vendor: str
    method: str
    path: str
    traceparent: str | None
    idempotency_key: str | None


@dataclass
class FaultBoard:
    """The sandbox's shared fault settings, latencies and call log."""

    latency_scale: float = 1.0
    seed: int | None = None
    faults: dict[str, Fault] = field(default_factory=dict)
    latency: dict[str, Latency] = field(default_factory=dict)  # each vendor's usual response time
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    requests: collections.deque[RecordedRequest] = field(default_factory=lambda: collections.deque(maxlen=2_000))

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def take_fault(self, vendor: str) -> Fault:
        """The fault this call gets: the vendor's, if the dice pick this call; counts down `times`."""
        fault = self.faults.get(vendor)
        if fault is None or (fault.fails and self.rng.random() >= fault.error_rate):
            return Fault()
        if fault.times is not None:
            if fault.times <= 1:
                del self.faults[vendor]
            else:
                self.faults[vendor] = fault.model_copy(update={"times": fault.times - 1})
        return fault

    def record(self, vendor: str, scope: Scope) -> None:
        self.calls[vendor] += 1
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        self.requests.append(
            RecordedRequest(
                at=time.time(),
                vendor=vendor,
                method=scope["method"],
                path=scope["path"],
                traceparent=headers.get("traceparent"),
                idempotency_key=headers.get("idempotency-key") or headers.get("x-idempotency-key"),
            )
        )


# The provider-shaped error body for a status, given the request path (one vendor may host two APIs).
ErrorBody = Callable[[int, str], dict[str, Any] | list[Any]]


class VendorGate:
    """ASGI wrapper in front of one vendor's routes: latency, faults and counting."""

    def __init__(self, vendor: str, app: ASGIApp, board: FaultBoard, error_body: ErrorBody) -> None:
        self.vendor = vendor
        self.app = app
        self.board = board
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        board = self.board
        board.record(self.vendor, scope)
        fault = board.take_fault(self.vendor)
        latency = board.latency.get(self.vendor, Latency(mean_ms=0))
        wait = latency.sample(board.rng, board.latency_scale)
        if fault.delay_ms or fault.jitter_ms:
            wait += max(0.0, fault.delay_ms + board.rng.uniform(-fault.jitter_ms, fault.jitter_ms)) / 1000
        if wait:
            await asyncio.sleep(wait)
        if not fault.fails:
            await self.app(scope, receive, send)
            return
        if fault.hang:
            await _wait_for_disconnect(receive, HANG_LIMIT_S)
            return
        if fault.reset:
            await _reset(scope.get(RAW_SEND_KEY, send), send)
            return
        if fault.status is not None:
            headers = [(b"content-type", b"application/json")]
            if fault.retry_after_s is not None:
                headers.append((b"retry-after", str(fault.retry_after_s).encode()))
            await _respond(send, fault.status, orjson.dumps(self.error_body(fault.status, scope["path"])), headers)
            return
        await self._malformed(scope, receive, send, fault.malformed)

    async def _malformed(self, scope: Scope, receive: Receive, send: Send, mode: bool | str) -> None:
        if mode == "html":
            body = b"<html><body><h1>502 Bad Gateway</h1><p>upstream timed out</p></body></html>"
            await _respond(send, 200, body, [(b"content-type", b"text/html")])
            return
        if mode == "schema":
            body = orjson.dumps({"ok": True, "result": [], "message": "unexpected shape"})
            await _respond(send, 200, body, [(b"content-type", b"application/json")])
            return
        # Truncated JSON: run the real handler and cut its body in half.
        status, chunks = 200, []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        await _respond(send, status, body[: max(1, len(body) // 2)], [(b"content-type", b"application/json")])


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _wait_for_disconnect(receive: Receive, limit_s: float) -> None:
    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watch(), timeout=limit_s)


class KeepRawSend:
    """Outermost ASGI wrapper: keeps the server's own `send` so a reset can reach the socket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[RAW_SEND_KEY] = send
        await self.app(scope, receive, send)


async def _reset(raw_send: Send, send: Send) -> None:
    """Abort the TCP connection with RST, as a crashed load balancer would.

    ASGI has no "reset" message, so reach the transport through the bound `send` of uvicorn's
    request cycle. Under another server, fall back to starting a response and dying mid-way,
    which the client sees as a broken connection too.
    """
    transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        await asyncio.sleep(0)  # let the server see the connection go before we return
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
    await send({"type": "http.response.body", "body": b'{"partial', "more_body": True})
    raise ConnectionResetError("sandbox: injected reset")
