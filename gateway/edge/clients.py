"""Who a request is from, and what a caller may decide about how we trace it.

The client is the TCP peer, unless the peer is one of `trusted_proxies` (your load balancer): then it
is the right-most address of `X-Forwarded-For` that is not itself a trusted proxy (addresses to the
left of it were written by the client and prove nothing). Rate limits and checkout budgets count
per client.

A `traceparent` from a caller that is not a trusted proxy still continues its trace id, but its
"sampled" flag no longer forces this gateway to record the trace: the sampler decides, as for a new
trace (`SamplingGuard`).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


@functools.lru_cache(maxsize=4096)  # parsing an address costs ~10 us; a load balancer has a few
def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def peer_of(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def client_of(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer, or the right-most untrusted X-Forwarded-For hop behind trusted proxies."""
    peer = peer_of(scope)
    if not trusted or not _trusted(peer, trusted):
        return peer
    forwarded = [value for name, value in scope["headers"] if name == b"x-forwarded-for"]
    hops = [hop.strip() for value in forwarded for hop in value.decode("latin-1").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return peer  # every hop is a proxy of ours: the request started inside


class SamplingGuard:
    """Clears the sampled flag of a `traceparent` sent by anyone but a trusted proxy (trace id kept)."""

    def __init__(self, app: ASGIApp, *, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _trusted(peer_of(scope), self.trusted):
            headers = scope["headers"]
            for i, (name, value) in enumerate(headers):
                if name == b"traceparent" and len(value) == 55 and value.endswith(b"-01"):
                    scope = {**scope, "headers": [*headers[:i], (name, value[:-2] + b"00"), *headers[i + 1:]]}
                    break
        await self.app(scope, receive, send)
