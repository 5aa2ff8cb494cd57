"""The APQ registry (`gateway.documents.apq`) on a real Redis: shared by processes, bounded in size, count and per
client, and degraded, not broken, without Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from connectors.config import RedisConfig
from connectors.ratelimits import RateLimits
from connectors.redisclient import SharedRedis
from gateway.documents.apq import PersistedQueries, sha256
from sandbox.handle import free_port

Process = Callable[..., PersistedQueries]


@pytest.fixture
async def process(redis_url: str) -> AsyncIterator[Process]:
    """A new gateway process's registry on the test's Redis, each call another process."""
    opened: list[SharedRedis] = []

    def start(*, url: str = redis_url, limits: RateLimits | None = None, **sizes: int) -> PersistedQueries:
        redis = SharedRedis(RedisConfig(url=url, timeout_ms=2000))
        opened.append(redis)
        apq = PersistedQueries(**{"ttl_s": 3600, "local_max_entries": 100, "max_bytes": 1000, "max_entries": 100,
                                  **sizes})
        apq.share(redis, limits)
        return apq

    yield start
    for redis in opened:
        await redis.aclose()


async def test_a_text_one_process_registered_every_process_finds(process: Process) -> None:
    text = "query Q { __typename }"
    assert await process().register(sha256(text), text, client="c")
    second = process()
    assert await second.get(sha256(text)) == text
    assert await second.get(sha256("query Other { __typename }")) is None
    await second.redis.call(lambda r: r.flushdb(), None)  # Redis lost it: a process keeps what it has seen
    assert await second.get(sha256(text)) == text
    assert await process().get(sha256(text)) is None


async def test_a_text_over_max_bytes_is_refused_counting_bytes_not_characters(process: Process) -> None:
    first = process(max_bytes=100)
    small, wide = "{ __typename }" + " " * 86, "{ __typename } #" + "é" * 60  # 100 bytes; 76 characters, 136 bytes
    assert await first.register(sha256(small), small, client="c")
    assert not await first.register(sha256(wide), wide, client="c")
    assert await first.get(sha256(wide)) is None
    assert await process().get(sha256(wide)) is None


async def test_redis_keeps_at_most_max_entries_dropping_the_oldest(process: Process) -> None:
    first = process(max_entries=2)
    texts = {digest: f"query Q{digest[0]} {{ __typename }}" for digest in ("a" * 64, "b" * 64, "c" * 64)}
    for digest, text in texts.items():  # (in the digests' own order too: a tie on the clock changes nothing)
        assert await first.register(digest, text, client="c")
    other = process()
    assert [await other.get(digest) for digest in texts] == [None, *list(texts.values())[1:]]


async def test_a_client_over_its_registrations_is_not_remembered_but_what_is_known_still_is(
    process: Process,
) -> None:
    apq = process(limits=RateLimits({"apq_registrations": "2/hour"}))
    texts = [f"query Q{i} {{ __typename }}" for i in range(3)]
    assert [await apq.register(sha256(t), t, client="c") for t in texts] == [True, True, False]
    assert await apq.get(sha256(texts[2])) is None
    assert await apq.register(sha256(texts[0]), texts[0], client="c")  # known: no budget spent
    assert await apq.register(sha256(texts[2]), texts[2], client="another")


async def test_without_redis_each_process_keeps_what_it_has_seen(process: Process) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    text = "query Q { __typename }"
    alone = process(url=dead)
    assert await alone.register(sha256(text), text, client="c")
    assert await alone.get(sha256(text)) == text
    assert await process(url=dead).get(sha256(text)) is None


async def test_the_in_process_tier_is_bounded() -> None:
    apq = PersistedQueries(ttl_s=3600, local_max_entries=2, max_bytes=1000, max_entries=100)  # no Redis
    texts = [f"query Q{i} {{ __typename }}" for i in range(3)]
    for t in texts:
        assert await apq.register(sha256(t), t, client="c")
    assert [await apq.get(sha256(t)) for t in texts] == [None, texts[1], texts[2]]
