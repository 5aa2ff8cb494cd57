"""`bezel serve` as a supervisor of worker processes: several answer one port, a dead one is replaced,
SIGTERM drains, and SIGHUP (or `bezel reload`) applies a new configuration with no request failed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sandbox.handle import Sandbox, free_port, wait_for
from tests.support import ROOT, US_ADDRESS, run_switches

TAX_QUERY = """query($a: AddressInput!) { product(handle: "gold-huggie-hoops") { taxEstimate(shipTo: $a) { rate } } }"""


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def pids(self, asks: int = 40) -> set[int]:
        """The worker pids that answer (each answer comes from whichever worker accepted it)."""
        found = set()
        for _ in range(asks):
            with httpx.Client(base_url=self.url, timeout=5) as client:  # a new connection each time
                found.add(client.get("/readyz").json()["worker"]["pid"])
        return found

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text():
            if time.monotonic() > deadline:
                raise AssertionError(f"never logged {text!r}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def wait_pids(self, predicate: object, timeout: float = 30.0) -> set[int]:
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids(20)
            if predicate(pids):  # type: ignore[operator]
                return pids
            if time.monotonic() > deadline:
                raise AssertionError(f"worker pids never matched; last {pids}; log:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)


@contextlib.contextmanager
def serve(sandbox: Sandbox, tmp_path: Path, config: str = "", *args: str, **env: str) -> Iterator[Served]:
    port = free_port()
    path = tmp_path / "bezel.toml"
    path.write_text(config)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BEZEL_", "OTEL_"))}
    environment.pop("REDIS_URL", None)
    environment.update({"BEZEL_SANDBOX__URL": sandbox.url, "BEZEL_ENV": "test", "BEZEL_ADMIN__PORT": "0",
                        "BEZEL_STOREFRONT__ENABLED": "false", "OTEL_SDK_DISABLED": "true", **run_switches(), **env})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--config",
                                    str(path), *args], env=environment, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/healthz", timeout=30)
        yield Served(url, process, log)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def test_two_workers_answer_one_port_and_a_dead_one_is_replaced(sandbox: Sandbox, tmp_path: Path) -> None:
    with serve(sandbox, tmp_path, "", "--workers", "2") as served:
        pids = served.wait_pids(lambda p: len(p) == 2)
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        after = served.wait_pids(lambda p: len(p) == 2 and victim not in p)
        assert len(after - pids) == 1
        assert "exited" in served.log.read_text()


def test_sigterm_lets_in_flight_requests_finish(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.fault("tax", delay_ms=1000)
    with serve(sandbox, tmp_path, "[vendors.tax]\ntimeout_ms = 3000\n[gateway]\nbudget_ms = 5000\n") as served:

        async def slow_page_then_sigterm() -> httpx.Response:
            async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
                page = asyncio.create_task(client.post("/graphql", json={"query": TAX_QUERY,
                                                                         "variables": {"a": US_ADDRESS}}))
                await asyncio.sleep(0.3)  # in flight now
                served.process.send_signal(signal.SIGTERM)
                return await page

        answer = asyncio.run(slow_page_then_sigterm())
        assert answer.status_code == 200
        assert answer.json()["data"]["product"]["taxEstimate"]["rate"]
        assert served.process.wait(timeout=20) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{served.url}/healthz", timeout=2)


BEFORE = """[gateway]
trusted_proxies = ["127.0.0.1/32"]
[limits]
pages = "1000/second"
[vendors.tax]
timeout_ms = 2000
cache_ttl_s = 0
"""
AFTER = BEFORE.replace('pages = "1000/second"', 'pages = "3/second"').replace("timeout_ms = 2000", "timeout_ms = 100")


def test_a_reload_applies_a_new_timeout_and_rate_limit_under_load_with_no_request_failed(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.fault("tax", delay_ms=400)
    with serve(sandbox, tmp_path, BEFORE, "--workers", "2") as served:
        before_pids = served.wait_pids(lambda p: len(p) == 2)
        config = tmp_path / "bezel.toml"

        async def run() -> tuple[list[int], dict, list[int]]:
            statuses: list[int] = []
            stop = asyncio.Event()
            async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
                async def shoppers() -> None:  # 20 pages a second, each a new shopper, the whole time
                    n = 0
                    while not stop.is_set():
                        n += 1
                        response = await client.post("/graphql", json={"query": "{ __typename }"},
                                                     headers={"x-forwarded-for": f"10.1.{n // 250}.{n % 250}"})
                        statuses.append(response.status_code)
                        await asyncio.sleep(0.05)

                load = asyncio.create_task(shoppers())
                page = await client.post("/graphql", json={"query": TAX_QUERY, "variables": {"a": US_ADDRESS}})
                assert page.json()["data"]["product"]["taxEstimate"]["rate"]  # 400 ms, inside 2,000
                config.write_text(AFTER)
                reload = await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway.cli", "reload", "--pid",
                                                              str(served.process.pid))
                assert await reload.wait() == 0
                await asyncio.to_thread(served.wait_for_log, "reloaded: 2 worker(s)")
                await asyncio.to_thread(served.wait_pids, lambda p: not p & before_pids)
                late = await client.post("/graphql", json={"query": TAX_QUERY, "variables": {"a": US_ADDRESS}})
                probe = [(await client.post("/graphql", json={"query": "{ __typename }"},
                                            headers={"x-forwarded-for": "198.51.100.9"})).status_code
                         for _ in range(6)]
                await asyncio.sleep(0.5)
                stop.set()
                await load
            return statuses, late.json(), probe

        statuses, late, probe = asyncio.run(run())
        assert statuses
        assert set(statuses) == {200}  # nothing failed while both workers were replaced
        assert late["data"]["product"]["taxEstimate"] is None  # 400 ms no longer fits the new 100 ms timeout
        assert late["extensions"]["vendors"]["tax"]["outcome"] == "timeout"
        assert 429 in probe  # the new page budget, 3 a second


def test_an_invalid_configuration_is_refused_and_the_old_one_kept(sandbox: Sandbox, tmp_path: Path) -> None:
    with serve(sandbox, tmp_path, "", "--workers", "1") as served:
        pids = served.wait_pids(lambda p: len(p) == 1)
        (tmp_path / "bezel.toml").write_text("[gateway]\nbudget_ms = -5\nno_such_key = 1\n")
        served.process.send_signal(signal.SIGHUP)
        served.wait_for_log("reload refused")
        assert "budget_ms" in served.log.read_text()
        assert served.pids(5) == pids
        assert httpx.post(f"{served.url}/graphql", json={"query": "{ __typename }"}, timeout=5).status_code == 200
