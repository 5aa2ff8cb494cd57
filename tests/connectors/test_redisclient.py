"""Redis failing is a degraded state; a bug of ours that looks like the cluster client's own fault is a bug."""

from __future__ import annotations

import pytest

from connectors.config import RedisConfig
from connectors.redisclient import SharedRedis, failed
from sandbox.redis_servers import RedisClusterHandle


def test_only_the_cluster_client_s_own_attribute_errors_count_as_redis_failing() -> None:
    def ours() -> None:
        None.writelines  # type: ignore[attr-defined]  # noqa: B018

    with pytest.raises(AttributeError) as caught:
        ours()
    assert not failed(caught.value)  # raised in our code: a bug
    assert failed(ConnectionError("refused"))
    assert failed(TimeoutError())


async def test_a_bug_inside_a_redis_call_is_raised_not_served_from_the_fallback(redis_cluster: RedisClusterHandle
                                                                                ) -> None:
    shared = SharedRedis(RedisConfig(url=redis_cluster.url, timeout_ms=2000, cluster=True))
    try:
        async def buggy(_client: object) -> None:
            raise AttributeError("our own mistake")

        with pytest.raises(AttributeError):
            await shared.call(buggy, None)
        assert shared.healthy  # not taken for Redis being down
    finally:
        await shared.aclose()


async def test_scripts_asked_for_together_share_one_round_trip_and_are_loaded_when_unknown(redis_url: str) -> None:
    import asyncio
    import uuid

    from redis.asyncio.connection import AbstractConnection

    shared = SharedRedis(RedisConfig(url=redis_url, timeout_ms=2000))
    # A script no server here has seen (SCRIPT FLUSH would be every test run's on this shared server).
    echo = shared.client.register_script(f"-- {uuid.uuid4()}\nreturn {{KEYS[1], ARGV[1]}}")
    other = shared.client.register_script(f"-- {uuid.uuid4()}\nreturn ARGV[1]")
    sends, commands = 0, 0
    send, pack = AbstractConnection.send_packed_command, AbstractConnection.pack_command

    async def counted(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        nonlocal sends
        sends += 1
        await send(self, command, check_health)  # type: ignore[arg-type]

    def packed(self: AbstractConnection, *args: object) -> object:
        nonlocal commands
        commands += 1
        return pack(self, *args)

    async def five() -> list[object]:
        return await asyncio.gather(*(shared.together(echo, [f"k{i}"], [f"v{i}"], None) for i in range(5)),
                                    shared.together(other, ["x"], ["o"], None))

    try:
        assert await shared.together(echo, ["k0"], ["v0"], None) == [b"k0", b"v0"]
        assert await five() == [*([f"k{i}".encode(), f"v{i}".encode()] for i in range(5)), b"o"]  # loads
        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
        AbstractConnection.pack_command = packed  # type: ignore[method-assign]
        assert await five() == [*([f"k{i}".encode(), f"v{i}".encode()] for i in range(5)), b"o"]
        assert sends == 1
        assert commands == 2  # one EVALSHA for the five calls of `echo` (its `many_of` form), one for `other`
    finally:
        AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
        AbstractConnection.pack_command = pack  # type: ignore[method-assign]
        await shared.aclose()


async def test_scripts_together_answer_the_default_when_redis_is_down() -> None:
    shared = SharedRedis(RedisConfig(url="redis://127.0.0.1:1/0", timeout_ms=50))
    script = shared.client.register_script("return 1")
    try:
        assert await shared.together(script, ["k"], [], "default") == "default"
        assert shared.state == "degraded"
    finally:
        await shared.aclose()
