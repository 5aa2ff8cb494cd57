"""The servers a worker runs on the supervisor's sockets."""

from __future__ import annotations

import socket

from gateway.runner import server
from gateway.supervisor import listen


def test_a_worker_serves_the_supervisor_s_tcp_socket_as_tcp() -> None:
    """uvicorn's own `fd` option takes every fd for a Unix socket: asyncio then never set TCP_NODELAY on
    the connections, and small answers waited on Nagle and delayed ACKs (warm throughput halved)."""
    sock = listen("127.0.0.1", 0)
    try:
        built = server(None, fd=sock.fileno())
        assert built.inherited is not None
        assert built.inherited.family == socket.AF_INET
        assert built.inherited.type == socket.SOCK_STREAM
    finally:
        sock.close()
