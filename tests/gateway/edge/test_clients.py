"""Who a client is (`gateway.edge.clients`): one key per address however it is spelled, and per IPv6 network."""

from __future__ import annotations

import pytest
from starlette.types import Scope

from gateway.edge.clients import UNKNOWN, SamplingGuard, client_of, networks

LOAD_BALANCER = networks(["10.0.0.0/8"])


def request(peer: str | None, *forwarded: str) -> Scope:
    """An HTTP scope from `peer`, with one X-Forwarded-For header per value of `forwarded`."""
    return {"type": "http", "client": (peer, 50_000) if peer is not None else None,
            "headers": [(b"x-forwarded-for", value.encode("latin-1")) for value in forwarded]}


def behind_the_load_balancer(hop: str, *, ipv6_prefix: int = 64) -> str:
    """The client a request has when the load balancer appended `hop` to X-Forwarded-For."""
    return client_of(request("10.0.0.5", f"198.51.100.99, {hop}"), LOAD_BALANCER, ipv6_prefix=ipv6_prefix)


@pytest.mark.parametrize("spelling", ["203.0.113.7", " 203.0.113.7 ", "203.0.113.7:51234", "::ffff:203.0.113.7",
                                      "::ffff:cb00:7107", "[::ffff:203.0.113.7]:443", "[203.0.113.7]"])
def test_every_spelling_of_one_ipv4_address_is_one_client(spelling: str) -> None:
    assert behind_the_load_balancer(spelling) == "203.0.113.7"


def test_a_dual_stack_socket_s_mapped_peer_is_the_ipv4_client() -> None:
    """An IPv6 listener sees IPv4 peers as ::ffff:a.b.c.d: the same client as on an IPv4 listener."""
    assert client_of(request("::ffff:203.0.113.7"), ()) == client_of(request("203.0.113.7"), ()) == "203.0.113.7"


def test_two_addresses_of_one_ipv6_64_are_one_client() -> None:
    """One subscriber gets a /64 (or more): counted per address, it would be 2^64 clients."""
    first = behind_the_load_balancer("2001:db8:1:2::1")
    second = behind_the_load_balancer("2001:db8:1:2:ffff:abcd:1234:5678")
    assert first == second == "2001:db8:1:2::/64"
    assert behind_the_load_balancer("2001:db8:1:3::1") != first
    assert client_of(request("2001:db8:1:2::9"), ()) == first  # the peer itself, without proxies


@pytest.mark.parametrize("spelling", ["2001:DB8:1:2::1", "2001:0db8:0001:0002:0000:0000:0000:0001",
                                      "[2001:db8:1:2::1]:443", "[2001:db8:1:2::1]", "2001:db8:1:2::1%eth0"])
def test_every_spelling_of_one_ipv6_address_is_one_client(spelling: str) -> None:
    assert behind_the_load_balancer(spelling) == "2001:db8:1:2::/64"


def test_the_ipv6_prefix_is_configurable() -> None:
    assert behind_the_load_balancer("2001:db8:1:2::1", ipv6_prefix=48) == "2001:db8:1::/48"
    assert behind_the_load_balancer("2001:db8:1:2::1", ipv6_prefix=56) == \
        behind_the_load_balancer("2001:db8:1:ff::1", ipv6_prefix=56) == "2001:db8:1::/56"
    assert behind_the_load_balancer("2001:db8:1:2::1", ipv6_prefix=128) == "2001:db8:1:2::1/128"
    assert behind_the_load_balancer("2001:db8:1:2::2", ipv6_prefix=128) == "2001:db8:1:2::2/128"


@pytest.mark.parametrize("garbage", ["not-an-address", "unknown", "x" * 10_000, "1.2.3", "01.2.3.4", "1.2.3.4.5",
                                     "[::1", "::1]:80", "1.2.3.4:port", "_hidden", "2001:db8::1::2", "%eth0"])
def test_an_unreadable_hop_is_one_bounded_client_whatever_it_says(garbage: str) -> None:
    """Only a trusted proxy writes the hop read: one that wrote garbage must not mint a client per string."""
    assert behind_the_load_balancer(garbage) == UNKNOWN


def test_a_request_without_a_peer_is_the_unknown_client() -> None:
    assert client_of(request(None), ()) == UNKNOWN


def test_a_trusted_proxy_is_recognized_however_it_is_spelled() -> None:
    """A proxy hop written with its port, or a mapped peer, is still ours: the client is the hop before it."""
    assert client_of(request("10.0.0.5", "203.0.113.7, 10.0.0.6:8080"), LOAD_BALANCER) == "203.0.113.7"
    assert client_of(request("::ffff:10.0.0.5", "203.0.113.7"), LOAD_BALANCER) == "203.0.113.7"


def test_hops_left_of_the_first_untrusted_one_prove_nothing() -> None:
    assert client_of(request("10.0.0.5", "1.1.1.1, 203.0.113.7"), LOAD_BALANCER) == "203.0.113.7"
    assert client_of(request("10.0.0.5", "1.1.1.1", "203.0.113.7"), LOAD_BALANCER) == "203.0.113.7"
    assert client_of(request("198.51.100.1", "203.0.113.7"), LOAD_BALANCER) == "198.51.100.1"  # not our proxy
    assert client_of(request("10.0.0.5", "10.0.0.6"), LOAD_BALANCER) == "10.0.0.5"  # started inside


SAMPLED = b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"


async def guarded(peer: str, *headers: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    """The headers the app behind `SamplingGuard` sees for a request from `peer`."""
    seen = []

    async def app(scope: Scope, receive: object, send: object) -> None:
        seen.extend(scope["headers"])

    await SamplingGuard(app, trusted=LOAD_BALANCER)({"type": "http", "client": (peer, 1), "headers": list(headers)},
                                                    None, None)
    return seen


async def test_an_outsider_s_sampled_flag_is_cleared_and_its_trace_id_kept() -> None:
    other = (b"x-other", b"1")
    assert await guarded("203.0.113.7", other, (b"traceparent", SAMPLED)) == [
        other, (b"traceparent", SAMPLED[:-2] + b"00")]


async def test_a_trusted_proxy_s_traceparent_and_odd_ones_pass_unchanged() -> None:
    assert await guarded("10.0.0.5", (b"traceparent", SAMPLED)) == [(b"traceparent", SAMPLED)]
    unsampled = SAMPLED[:-2] + b"00"
    malformed = SAMPLED + b"-extra"  # not a W3C traceparent: the tracer ignores it anyway
    for header in (unsampled, malformed):
        assert await guarded("203.0.113.7", (b"traceparent", header)) == [(b"traceparent", header)]
