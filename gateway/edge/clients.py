"""Who a request is from, and what a caller may decide about how we trace it.

The client is the TCP peer, unless the peer is one of `trusted_proxies` (your load balancer): then it
is the right-most address of `X-Forwarded-For` that is not itself a trusted proxy (addresses to the
left of it were written by the client and prove nothing). Rate limits and checkout budgets count
per client, so the client is a key, one per client however its address is written:

- an IPv4 address in its canonical form, also when it arrives IPv4-mapped (`::ffff:203.0.113.7`, as a
  dual-stack socket sees IPv4 peers) or with a port (`203.0.113.7:51234`);
- an IPv6 address as its network at `[gateway] ipv6_client_prefix` (`2001:db8:1:2::/64`): one subscriber
  is given a /64 or more, so counted per address one attacker would be 2^64 clients. Brackets, ports and
  zone ids are dropped;
- anything else (no peer, or a hop that is not an address, which only a misbehaving proxy of ours could
  write) is the one client `UNKNOWN`: garbage cannot mint a budget per string.

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
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"  # the one client of every request whose peer or hop is not an address
# One IPv6 subscriber (a home, a phone, a cloud VM) is routed a /64; ISPs give /56 or /48 to a customer.
DEFAULT_IPV6_PREFIX = 64
# "[ffff:...:ffff%zone]:65535" fits; anything longer is no address, and is not kept in a cache.
_MAX_ADDRESS_CHARS = 80


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _address(text: str) -> Address | None:
    """`text` as an address (see `_parse`), or None; over-long text is refused before any cache sees it."""
    text = text.strip()
    return _parse(text) if len(text) <= _MAX_ADDRESS_CHARS else None


@functools.lru_cache(maxsize=4096)  # parsing costs a few us, on every request: peers and hops repeat
def _parse(text: str) -> Address | None:
    """An address as peers and proxies write it: `[v6]:port`, `[v6]`, `v4:port`, a zone id (`%eth0`) dropped,
    an IPv4-mapped IPv6 address as its IPv4 one. Leading-zero or shortened IPv4 forms are no address."""
    if text.startswith("["):
        end = text.find("]")
        port = text[end + 1:]
        if end < 0 or (port and not (port[0] == ":" and port[1:].isdigit())):
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        ip = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@functools.lru_cache(maxsize=4096)  # a load balancer has a few addresses
def _within(ip: Address, trusted: tuple[Network, ...]) -> bool:
    return any(ip in net for net in trusted)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    ip = _address(address)
    return ip is not None and _within(ip, trusted)


@functools.lru_cache(maxsize=4096)
def _key(ip: Address, ipv6_prefix: int) -> str:
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))


def client_key(address: str, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """The client an address is: IPv4 canonical, IPv6 as its network at `ipv6_prefix`, else `UNKNOWN`."""
    ip = _address(address)
    return UNKNOWN if ip is None else _key(ip, ipv6_prefix)


def peer_of(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else UNKNOWN


def client_of(scope: Scope, trusted: tuple[Network, ...], *, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """The client's key (`client_key`) for rate limits and checkout budgets: of the peer, or of the right-most
    X-Forwarded-For hop that is not a trusted proxy, behind trusted proxies."""
    peer = peer_of(scope)
    if trusted and _trusted(peer, trusted):
        forwarded = [value for name, value in scope["headers"] if name == b"x-forwarded-for"]
        hops = [hop for value in forwarded for hop in value.decode("latin-1").split(",") if hop.strip()]
        for hop in reversed(hops):
            if not _trusted(hop, trusted):
                return client_key(hop, ipv6_prefix)
    return client_key(peer, ipv6_prefix)  # not behind a proxy of ours, or every hop is one: it started inside


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
