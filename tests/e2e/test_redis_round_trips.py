"""What a new shopper's page asks of the shared Redis tier (the production configuration): its reads in
one round trip, its writes in one more, a handful of commands. Counted, not timed."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
from redis.asyncio.connection import AbstractConnection

from bench.pages import STANDARD, page_body
from sandbox.handle import Sandbox
from tests.support import run_gateway, settings_for


@contextmanager
def counting() -> Iterator[collections.Counter[str]]:
    """Round trips (one `send_packed_command` each) and commands this process sends to Redis."""
    counts: collections.Counter[str] = collections.Counter()
    send, pack = AbstractConnection.send_packed_command, AbstractConnection.pack_command

    async def sent(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        counts["round_trips"] += 1
        await send(self, command, check_health)  # type: ignore[arg-type]

    def packed(self: AbstractConnection, *args: object) -> object:
        counts["commands"] += 1
        counts[str(args[0])] += 1
        return pack(self, *args)

    AbstractConnection.send_packed_command = sent  # type: ignore[method-assign]
    AbstractConnection.pack_command = packed  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
        AbstractConnection.pack_command = pack  # type: ignore[method-assign]


async def test_a_new_shoppers_page_reads_in_one_round_trip_and_writes_in_one(sandbox: Sandbox,
                                                                               redis_url: str) -> None:
    async with run_gateway(settings_for(sandbox, REDIS_URL=redis_url)) as gw:
        for warm in range(2):  # the catalog, BNPL and the scripts in place; the next shoppers are new
            assert (await gw.http.post("/graphql", content=page_body(STANDARD, f"1200{warm}", f"Warm {warm}"),
                                       headers={"content-type": "application/json"})).status_code == 200
        pages = 6
        with counting() as counts:
            for n in range(pages):
                response = await gw.http.post("/graphql", content=page_body(STANDARD, f"1300{n}", f"Shopper {n}"),
                                              headers={"content-type": "application/json"})
                answer = orjson.loads(response.content)
                assert "errors" not in answer, answer
                product = answer["data"]["product"]
                assert product["taxEstimate"]["freshness"]["source"] == "LIVE"  # a new address: asked live
                assert product["engravingPreview"]["freshness"]["source"] == "LIVE"
    # Reads: the cache entries of tax, insurance and engraving (their leases taken in the same script)
    # and checkout's stock counters; writes: the answers, the leases let go, the scarce stock's levels.
    # A page's rate-limit hit reaches Redis once in ten pages, and a chance health check is one more.
    assert counts["round_trips"] <= 2 * pages + 2, counts
    assert counts["commands"] <= 4 * pages + 2, counts
