"""Saturation load with wrk (Debian's `wrk`): a C load generator that keeps one core's worth of
connections busy without becoming the bottleneck itself, with a Lua script that posts GraphQL bodies
chosen at random from a file, so caches see the mix a real page population would give them."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from bench.env import LOAD_CORE, WORK, pinned

# Each request from one of 4096 shoppers (X-Forwarded-For; see bench.common.shopper_address), so the
# gateway's per-client rate limits count as they would for a real crowd.
_LUA = """
local bodies = {}
for line in io.lines("%s") do bodies[#bodies + 1] = line end
math.randomseed(7)
request = function()
  local body = bodies[math.random(#bodies)]
  local shopper = "10.0." .. math.random(0, 15) .. "." .. math.random(0, 255)
  return wrk.format("POST", nil, {["content-type"] = "application/json", ["x-forwarded-for"] = shopper}, body)
end
"""
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    output: str


def available() -> bool:
    return shutil.which("wrk") is not None


def run(url: str, bodies: list[bytes], *, seconds: int = 20, connections: int = 32, name: str = "bodies"
        ) -> WrkResult:
    WORK.mkdir(parents=True, exist_ok=True)
    body_file = WORK / f"{name}.jsonl"
    body_file.write_bytes(b"\n".join(bodies) + b"\n")
    script = WORK / f"{name}.lua"
    script.write_text(_LUA % body_file)
    args = pinned(LOAD_CORE, ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url])
    output = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    return _parse(output)


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def _parse(output: str) -> WrkResult:
    def percentile(p: str) -> float:
        match = re.search(rf"^\s+{p}%\s+(\S+)", output, flags=re.MULTILINE)
        return _ms(match[1]) if match else float("nan")

    done = re.search(r"(\d+) requests in ([\d.]+)(\w+),", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if done is None or rps is None:
        raise RuntimeError(f"wrk output not understood:\n{output}")
    return WrkResult(
        requests=int(done[1]),
        seconds=_ms(done[2] + done[3]) / 1000,
        rps=float(rps[1]),
        p50_ms=percentile("50"),
        p90_ms=percentile("90"),
        p99_ms=percentile("99"),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(x) for x in errors.groups()) if errors else 0,
        output=output,
    )
