"""Shared fixtures: one sandbox process for the session, reset before every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support import Gateway, Sandbox, run_gateway, run_sandbox, settings_for


@pytest.fixture(scope="session")
def sandbox_process() -> Iterator[Sandbox]:
    with run_sandbox() as sandbox:
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
