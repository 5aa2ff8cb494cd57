"""The tests' own harness: whatever the developer's environment says, one test's Redis never becomes
another's page cache (97 of 603 tests failed that way once, with REDIS_URL set as the guide says)."""

from __future__ import annotations

import pytest

from sandbox.handle import Sandbox
from tests.support import redis_test_url, settings_for


def test_a_gateway_a_test_builds_takes_no_redis_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                                     sandbox: Sandbox) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("BEZEL_REDIS__URL", "redis://127.0.0.1:6379/1")
    monkeypatch.setenv("BEZEL_CHECKOUT__REDIS_URL", "redis://127.0.0.1:6379/2")
    settings = settings_for(sandbox)
    assert settings.redis.url == ""
    assert settings.checkout.redis_url == ""
    # REDIS_URL still names the server the tests' own, per-test db indexes live on.
    assert redis_test_url(7) == "redis://127.0.0.1:6379/7"


def test_a_gateway_a_test_hands_redis_to_uses_that_one(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = settings_for(sandbox, BEZEL_REDIS__URL=redis_test_url(9))
    assert settings.redis.url == redis_test_url(9)


def test_two_runs_on_one_machine_claim_different_db_indexes() -> None:
    """A second pytest process (CI beside a developer's run) empties none of this run's Redis."""
    import subprocess
    import sys

    from tests.support import ROOT, claimed_redis_dbs

    mine = claimed_redis_dbs()
    script = "from tests.support import claimed_redis_dbs; print(claimed_redis_dbs())"
    other = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                           check=True).stdout.strip()
    assert other != str(mine)
    assert claimed_redis_dbs() == mine  # claimed once per run
