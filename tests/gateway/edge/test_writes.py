"""A request's shared-tier writes leave with its answer: before its last part, after each earlier one."""

from __future__ import annotations

import redis.asyncio as aredis
from starlette.types import Message

from connectors.config import RedisConfig
from connectors.redisclient import SharedRedis
from connectors.sharedwrites import Write
from gateway.edge.writes import writes_with_each_part


async def test_writes_go_before_the_last_part_and_after_each_earlier_one(redis_url: str) -> None:
    shared = SharedRedis(RedisConfig(url=redis_url, timeout_ms=2000))
    raw = aredis.Redis.from_url(redis_url)
    seen: list[tuple[bytes, list[bytes | None]]] = []

    async def send(message: Message) -> None:  # what Redis holds as each message leaves
        seen.append((message.get("body", b""), await raw.mget(["one", "two"])))

    try:
        async with writes_with_each_part(send) as sending:
            await sending({"type": "http.response.start", "status": 200, "headers": []})
            await shared.write(Write([("set", "one", b"1", 5000)]))
            await sending({"type": "http.response.body", "body": b"first part", "more_body": True})
            assert await raw.get("one") == b"1"  # sent after that part left, not at the end
            await shared.write(Write([("set", "two", b"2", 5000)]))
            await sending({"type": "http.response.body", "body": b"last part", "more_body": False})
        assert seen == [(b"", [None, None]), (b"first part", [None, None]), (b"last part", [b"1", b"2"])]
    finally:
        await raw.aclose()
        await shared.aclose()


async def test_writes_after_the_request_go_at_once(redis_url: str) -> None:
    shared = SharedRedis(RedisConfig(url=redis_url, timeout_ms=2000))
    raw = aredis.Redis.from_url(redis_url)

    async def send(message: Message) -> None:
        pass

    try:
        async with writes_with_each_part(send):
            await shared.write(Write([("set", "queued", b"q", 5000)]))  # no answer sent: goes at the end
            assert await raw.exists("queued") == 0
        assert await raw.get("queued") == b"q"
        await shared.write(Write([("set", "later", b"l", 5000)]))
        assert await raw.get("later") == b"l"
    finally:
        await raw.aclose()
        await shared.aclose()
