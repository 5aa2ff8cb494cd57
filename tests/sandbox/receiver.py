"""A stand-in for the gateway's webhook endpoints: records each POST as it arrived, raw, and answers
what the test tells it to (200 by default, or the statuses queued in `fail_with`)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() on arrival
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)  # statuses for the next requests, first first
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.fail_with.clear()

    def wait(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The first `count` requests, once that many arrived (AssertionError after `timeout` s)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received[:count])
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} webhook(s) arrived, expected {count}")
            time.sleep(0.01)

    def _record(self, request: Received) -> int:
        with self.lock:
            self.received.append(request)
            return self.fail_with.pop(0) if self.fail_with else 200


@contextlib.contextmanager
def run_receiver() -> Iterator[Receiver]:
    """A threaded HTTP server on a free local port, stopped on exit."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver._record(Received(time.monotonic(), self.path, headers, body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
