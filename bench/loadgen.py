"""Load at a fixed arrival rate, and what each answer says about itself.

wrk (used for saturation) is closed-loop: a slow answer delays the next request, which hides
latency (coordinated omission), and it cannot read response bodies per request. Here requests leave
on a fixed schedule whatever came back before, latency is measured from the scheduled start, and each
body's `extensions.vendors` gives the vendors' own timings, so gateway overhead is measured request by
request. At 100 requests/s this Python generator uses a fraction of its core (we check: see `cpu`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.common import shopper_address


@dataclass
class Sample:
    latency_ms: float  # from the scheduled start (includes any wait for a free connection)
    status: int
    vendors: dict[str, Any] = field(default_factory=dict)
    error_codes: tuple[str, ...] = ()
    body: Any = None
    gateway_ms: float | None = None  # the gateway's own time, from its Server-Timing header

    @property
    def critical_vendor_ms(self) -> float:
        """The vendors' time on the critical path: the catalog first, then the slowest of the rest."""
        rest = [v["ms"] for name, v in self.vendors.items() if name != "catalog"]
        return self.vendors.get("catalog", {}).get("ms", 0.0) + (max(rest) if rest else 0.0)

    @property
    def overhead_ms(self) -> float:
        """As the client sees it: includes the network, queueing for a connection, this client's work."""
        return max(0.0, self.latency_ms - self.critical_vendor_ms)

    @property
    def gateway_overhead_ms(self) -> float | None:
        """Inside the gateway: its own time (parse, execute, encode) beyond the vendors' critical path."""
        return None if self.gateway_ms is None else max(0.0, self.gateway_ms - self.critical_vendor_ms)


@dataclass
class Run:
    samples: list[Sample]
    seconds: float
    cpu: float  # share of one core this generator used

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.status == 200]


async def fixed_rate(url: str, bodies: Sequence[bytes], *, rate: float, seconds: float,
                     headers: dict[str, str] | None = None, keep_body: Callable[[Any], Any] | None = None,
                     client: Callable[[int], str] = shopper_address) -> Run:
    """Send `rate` requests per second for `seconds`, cycling through `bodies`; request i comes from
    `client(i)` (X-Forwarded-For; by default every request a new shopper).

    aiohttp, not httpx: when the gateway stalls, hundreds of requests wait for a connection, and
    httpx's pool (httpcore) does work per waiter on every release, so the generator itself ran out
    of CPU, starved the sandbox on its core and turned a 4 s stall into a collapse that never ended.
    aiohttp's pool does not, and costs about half the CPU per request."""
    total = int(rate * seconds)
    samples: list[Sample] = []
    connector = aiohttp.TCPConnector(limit=2048)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers={
            "content-type": "application/json", **(headers or {})}) as session:
        async def one(i: int, scheduled: float) -> None:
            try:
                async with session.post(url, data=bodies[i % len(bodies)],
                                        headers={"x-forwarded-for": client(i)}) as response:
                    content = await response.read()
                    latency = (time.perf_counter() - scheduled) * 1000
                    doc = orjson.loads(content) if response.status == 200 else {}
                    samples.append(Sample(
                        latency_ms=latency,
                        status=response.status,
                        vendors=(doc.get("extensions") or {}).get("vendors") or {},
                        error_codes=tuple(_code(e) for e in doc.get("errors") or []),
                        body=keep_body(doc) if keep_body else None,
                        gateway_ms=_server_timing(response.headers.get("server-timing")),
                    ))
            except (TimeoutError, aiohttp.ClientError):
                samples.append(Sample(latency_ms=(time.perf_counter() - scheduled) * 1000, status=0))

        started, cpu_started = time.perf_counter(), time.process_time()
        tasks = []
        for i in range(total):
            scheduled = started + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(i, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        cpu = (time.process_time() - cpu_started) / elapsed
    return Run(samples=samples, seconds=elapsed, cpu=cpu)


def warm(url: str, body: bytes, *, times: int = 30, strict: bool = True) -> None:
    """Ask for one page `times` times (as many shoppers) so every answer is cached; `strict`: raises
    unless each answer is a clean 200."""
    import httpx

    with httpx.Client(timeout=10) as client:
        for i in range(times):
            response = client.post(url, content=body, headers={"content-type": "application/json",
                                                               "x-forwarded-for": shopper_address(i)})
            if strict and (response.status_code != 200 or "errors" in response.json()):
                said = response.json().get("errors") if response.status_code == 200 else response.text[:300]
                raise RuntimeError(f"the page does not answer cleanly (HTTP {response.status_code}): {said}")


def _code(error: dict[str, Any]) -> str:
    """An error's code, with the vendor it names (`VENDOR_UNAVAILABLE:tax`)."""
    extensions = error.get("extensions") or {}
    code = str(extensions.get("code", ""))
    return f"{code}:{extensions['vendor']}" if extensions.get("vendor") else code


def _server_timing(header: str | None) -> float | None:
    for metric in (header or "").split(","):
        name, _, params = metric.strip().partition(";")
        if name == "gateway" and params.startswith("dur="):
            return float(params[4:])
    return None


async def closed_loop(call: Callable[[int], Any], *, concurrency: int, seconds: float) -> tuple[list[float], int]:
    """`concurrency` clients calling `call(i)` back to back for `seconds`: latencies (ms) and count."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def client() -> None:
        while time.perf_counter() < deadline:
            i = next(counter)
            started = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, len(latencies)
