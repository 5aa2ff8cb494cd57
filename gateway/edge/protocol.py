"""uvicorn's HTTP protocol with the limits it lacks: time, size and count of a request's headers.

uvicorn (httptools) waits for headers as long as a client cares to send them and takes them at any
size (a 40 MB header was accepted), so a few hundred connections sending a byte now and then hold
sockets forever. Here a connection must finish each request's headers within `header_timeout_s` of
starting it (or of connecting), in at most `max_header_bytes` and `max_headers`, or it is answered
(408 / 431) and closed. The body's own deadline is `gateway.edge.body`'s.

`HttpToolsProtocol` and every method and attribute of it used here are uvicorn internals: listed in
`schema.internals` (whose probe runs on import, naming any that moved), uvicorn pinned for them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from schema import internals  # noqa: F401  (its probe: every uvicorn internal used below is still there)
from schema.refusals import REFUSED

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _Refused(Exception):
    pass


class GuardedHttpTools(HttpToolsProtocol):
    header_timeout_s = 10.0
    max_header_bytes = 16 * 1024
    max_headers = 100

    @classmethod
    def with_limits(cls, *, header_timeout_s: float, max_header_bytes: int, max_headers: int) -> type[Any]:
        return type(cls.__name__, (cls,), {"header_timeout_s": header_timeout_s,
                                           "max_header_bytes": max_header_bytes, "max_headers": max_headers})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._header_count = 0
        self._refusal: int | None = None
        self._deadline: asyncio.TimerHandle | None = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._header_count = 0
        if self._deadline is None:  # the next request on a kept-alive connection
            self._deadline = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _count(self, size: int, headers: int) -> None:
        self._header_bytes += size
        self._header_count += headers
        if self._header_bytes > self.max_header_bytes or self._header_count > self.max_headers:
            self._refusal = 431
            raise _Refused  # httptools turns it into a parser error: data_received answers below

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
            return
        self._answer(self._refusal, "header_too_large")

    def _too_slow(self) -> None:
        self._deadline = None
        if self.cycle is None or self.cycle.response_complete:  # still reading this request's headers
            self._answer(408, "header_timeout")

    def _answer(self, status: int, reason: str) -> None:
        REFUSED.add(1, (("reason", reason),))
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                                 % (status, _REASONS[status]))
            self.transport.close()

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

