"""Run one or more ASGI servers in one event loop, stopping them all cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import uvicorn

from gateway.edge.protocol import GuardedHttpTools
from gateway.settings import Settings

DRAIN_MARGIN_S = 2.0


class _Server(uvicorn.Server):
    inherited: socket.socket | None = None  # a listening socket the supervisor bound (see `server`)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are handled once for all servers by `serve_all`; uvicorn's per-server handlers
        # would only stop whichever server installed them last.
        yield

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        await super().serve(sockets=sockets or ([self.inherited] if self.inherited else None))


def server(app: Any, *, host: str = "127.0.0.1", port: int = 0, fd: int | None = None,
           access_log: bool = True, log_level: str = "info", http: type[Any] | None = None,
           drain_s: float = 5.0, ws_max_bytes: int = 16 * 1024 * 1024, ws_ping_s: float | None = 20.0
           ) -> uvicorn.Server:
    """A uvicorn server; `http` is its HTTP protocol class (the gateway's guards its headers).

    uvicorn's own X-Forwarded-For handling is off: it would trust 127.0.0.1 whatever the config says
    and rewrite the peer before `gateway.edge.clients` (the one place that decides who a client is)
    sees it.

    `fd`: serve a listening socket the supervisor bound. Not uvicorn's own `fd` option: it takes every
    fd for a Unix socket (`AF_UNIX`), so asyncio never set TCP_NODELAY on its TCP connections and small
    answers waited on Nagle's algorithm and delayed ACKs (warm-page throughput halved, p50 60 ms).

    WebSockets (graphql-transport-ws): a message over `ws_max_bytes` closes its socket with 1009; a ping
    every `ws_ping_s`, and a client that has not answered one within three of them is closed."""
    built = _Server(uvicorn.Config(app, host=host, port=port, access_log=access_log, log_level=log_level,
                                   log_config=None, lifespan="auto",
                                   # typed int by uvicorn, used as asyncio's timeout: a fraction is kept
                                   timeout_graceful_shutdown=drain_s,  # type: ignore[arg-type]
                                   http=http or "auto", proxy_headers=False, ws="websockets-sansio",
                                   ws_max_size=ws_max_bytes, ws_ping_interval=ws_ping_s,
                                   ws_ping_timeout=ws_ping_s * 3 if ws_ping_s else None))
    if fd is not None:
        built.inherited = socket.socket(fileno=fd)  # its family and type read from the fd itself
    return built


def gateway_server(app: Any, settings: Settings, *, fd: int | None = None, host: str = "127.0.0.1", port: int = 0
                   ) -> uvicorn.Server:
    """The public server (on the supervisor's socket, or its own for `bezel dev`): headers bounded in
    time, size and count (`gateway.edge.protocol`); on SIGTERM, in-flight requests get the longest
    budget (checkout's) and a margin to finish. A WebSocket message is bounded as a request's body is,
    and pinged at the live pages' heartbeat (`[live] heartbeat_s`)."""
    g = settings.gateway
    http = GuardedHttpTools.with_limits(header_timeout_s=g.header_timeout_ms / 1000,
                                        max_header_bytes=g.max_header_bytes, max_headers=g.max_headers)
    return server(app, host=host, port=port, fd=fd, access_log=False, http=http, drain_s=drain_seconds(settings),
                  ws_max_bytes=g.max_body_bytes, ws_ping_s=settings.live.heartbeat_s)


def drain_seconds(settings: Settings) -> float:
    """How long a stopping worker lets its in-flight requests run: the longest budget, plus a margin."""
    return max(settings.gateway.budget_ms, settings.checkout.budget_ms) / 1000 + DRAIN_MARGIN_S


async def serve_all(*servers: uvicorn.Server,
                    background: Sequence[Callable[[asyncio.Event], Awaitable[None]]] = ()) -> None:
    """Run the servers, and each `background(stop)` job, until Ctrl-C or SIGTERM sets `stop`."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def stop() -> None:
        stopping.set()
        for s in servers:
            if s.should_exit:
                s.force_exit = True  # a second Ctrl-C stops waiting for open connections
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await asyncio.gather(*(s.serve() for s in servers), *(job(stopping) for job in background))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
