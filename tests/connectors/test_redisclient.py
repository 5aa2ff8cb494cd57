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
