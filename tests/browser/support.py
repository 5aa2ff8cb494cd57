"""`bezel dev` as a process for browser tests, and its sandbox's admin API.

    with run_bezel_dev(data_dir) as bezel:
        bezel.fault("tax", status=503)          # PUT /_admin/faults/tax on the sandbox
        bezel.latency("engraving", 800)          # PUT /_admin/latency/engraving
        page.goto(f"{bezel.url}/graphql")
        bezel.graphql("{ product(handle: \"akoya-pearl-strand\") { title } }")   # the API, as a test's client
        bezel.calls()["payments"], bezel.received("erp"), bezel.stock("AKO-L16")
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, Request, expect

from sandbox.handle import Sandbox, free_port
from tests.support import ROOT

# The child must not inherit the suite's Redis (REDIS_URL, db 12 and 13 of it, flushed by other tests) nor any
# configuration of the shell it was started from: `bezel dev` then starts its own private Redis.
_INHERITED_CONFIG = ("REDIS_URL", "BEZEL_")


@dataclass
class BezelDev:
    """A running `bezel dev`: the gateway at `url`, the vendor sandbox at `sandbox_url`."""

    url: str
    sandbox_url: str
    process: subprocess.Popen[bytes]
    log: Path
    redis_url: str = ""  # its private Redis (orders, stock counters): what `bezel orders` is pointed at
    sandbox: Sandbox = field(init=False)
    usual_latency: dict[str, dict[str, float]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # The sandbox's own handle for everything else: stock, call counts, fix_latencies.
        self.sandbox = Sandbox(url=self.sandbox_url, process=self.process)

    def fault(self, vendor: str, **fault: Any) -> None:
        """Make a sandbox vendor misbehave, e.g. `fault("tax", status=503)` (see the sandbox's README)."""
        self.sandbox.fault(vendor, **fault)

    def clear_faults(self) -> None:
        self.sandbox.clear_faults()

    def latency(self, vendor: str, mean_ms: float, jitter_ms: float = 0) -> None:
        """Set a vendor's latency; no jitter by default, so a test sees the same delay every time."""
        with self.sandbox.admin() as admin:
            admin.put(f"/latency/{vendor}", json={"mean_ms": mean_ms, "jitter_ms": jitter_ms}).raise_for_status()

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST a query text to the gateway's /graphql (as a test's own client, not the storefront); the whole
        answer, {"data", "errors"?, "extensions"}. Counts against this machine's `[limits] pages` like the page's."""
        answer = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": dict(variables or {})},
                            timeout=10.0)
        answer.raise_for_status()
        return answer.json()

    def calls(self) -> dict[str, int]:
        """Calls each sandbox vendor received since the last reset, e.g. `calls()["payments"]`."""
        return self.sandbox.calls()

    def received(self, system: str) -> dict[str, Any]:
        """What the sandbox's erp, wms or crm has received since the last reset, by its external id."""
        with self.sandbox.admin() as admin:
            answer = admin.get(f"/received/{system}")
            answer.raise_for_status()
            return answer.json()

    def stock(self, sku: str) -> int:
        """Units on hand of a SKU in the sandbox (the ERP's and inventory vendor's truth)."""
        with self.sandbox.admin() as admin:
            answer = admin.get(f"/stock/{sku}")
            answer.raise_for_status()
            return int(answer.json()["quantity"])

    def reset(self) -> None:
        """No faults, zeroed call counts, the starting stock and every vendor at the latency it started with.

        The gateway keeps what it learnt (its caches, open circuits): a test that needs a cold gateway starts its
        own `bezel dev` with `run_bezel_dev`."""
        self.sandbox.reset()
        with self.sandbox.admin() as admin:
            for vendor, latency in self.usual_latency.items():
                admin.put(f"/latency/{vendor}", json=latency).raise_for_status()


@contextlib.contextmanager
def run_bezel_dev(data_dir: Path, *, latency_scale: float = 1.0, env: Mapping[str, str] | None = None,
                  timeout: float = 30.0) -> Iterator[BezelDev]:
    """`python -m gateway.cli dev` on free ports, with its private Redis on another and its data in `data_dir`,
    up once /healthz answers; stopped with SIGINT (as Ctrl+C in `make run`) on the way out.

    `env` adds `BEZEL_*` overrides on top of a clean environment (nothing inherited but PATH and the like).
    Output goes to `data_dir/bezel-dev.log`, quoted if it fails to start.
    """
    port, sandbox_port, redis_port = free_port(), free_port(), free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "bezel-dev.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_CONFIG)}
    child_env.update(env or {})
    args = [sys.executable, "-m", "gateway.cli", "dev", "--port", str(port), "--sandbox-port", str(sandbox_port),
            "--redis-port", str(redis_port), "--data-dir", str(data_dir), "--latency-scale", str(latency_scale)]
    with log.open("wb") as output:
        # A session of its own, so that the private Redis it starts can be killed with it if it hangs.
        process = subprocess.Popen(args, env=child_env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    bezel = BezelDev(url=f"http://127.0.0.1:{port}", sandbox_url=f"http://127.0.0.1:{sandbox_port}",
                     process=process, log=log, redis_url=f"redis://127.0.0.1:{redis_port}/0")
    try:
        _wait_healthy(bezel, timeout)
        with bezel.sandbox.admin() as admin:
            bezel.usual_latency = admin.get("/latency").json()["vendors"]
        yield bezel
    finally:
        _stop(process)


def _wait_healthy(bezel: BezelDev, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{bezel.url}/healthz", timeout=1.0).status_code == 200:
                return
        if bezel.process.poll() is not None or time.monotonic() > deadline:
            state = f"exited with {bezel.process.returncode}" if bezel.process.returncode is not None else (
                f"not healthy within {timeout:.0f}s")
            tail = bezel.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"bezel dev {state}; the end of {bezel.log}:\n{tail}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # Whatever it left behind (its private Redis, if it could not stop it): the session is its own.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


# --- the storefront in a page -------------------------------------------------------------------------------

# The storefront's Performance API marks, from navigation start (ms), or None if not set (yet).
MARKS_JS = """() => Object.fromEntries(["bezel:request", "bezel:title", "bezel:complete"].map(
    (name) => [name.slice(6), performance.getEntriesByName(name)[0]?.startTime ?? null]))"""


def operation_of(request: Request) -> str | None:
    """The operation a storefront request to /graphql runs: `operationName` from a GET's URL or a POST's body."""
    url = urlsplit(request.url)
    if not url.path.endswith("/graphql"):
        return None
    if request.method == "GET":
        return parse_qs(url.query).get("operationName", [None])[0]
    try:
        return json.loads(request.post_data or "{}").get("operationName")
    except ValueError:
        return None


def graphql_requests(page: Page) -> Callable[[str], list[Request]]:
    """From now on, the page's requests to /graphql (GET or POST); `sent("OrderLookup")` those of one operation."""
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request) if operation_of(request) else None)
    return lambda name: [r for r in seen if operation_of(r) == name]


def page_marks(page: Page) -> dict[str, float]:
    """{"request", "title", "complete"}: when the product page sent its request, painted its title and painted
    every part, in ms from navigation start on the browser's own clock. Read once the page is complete."""
    marks: dict[str, float | None] = page.evaluate(MARKS_JS)
    missing = [name for name, at in marks.items() if at is None]
    assert not missing, f"the storefront did not set the marks {missing}: {marks}"
    return {name: float(at or 0) for name, at in marks.items()}


def expect_complete(page: Page, timeout_ms: float | None = None) -> None:
    """Until the storefront says the page has everything on screen (body[data-page-state=complete])."""
    expect(page.locator("body")).to_have_attribute("data-page-state", "complete", timeout=timeout_ms)

