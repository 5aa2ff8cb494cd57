"""Shared by the benchmarks: machine and version stamps, percentiles, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "httpx", "aiohttp", "redis", "orjson",
            "opentelemetry-sdk")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {p: metadata.version(p) for p in PACKAGES},
        "git": _git_head(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def _git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=RESULTS.parent, timeout=5).stdout.strip()
    except OSError:
        return "unknown"


def shopper_address(i: int) -> str:
    """The i-th shopper's address, as the load balancer the benchmarks play reports it (X-Forwarded-For):
    every gateway here trusts 127.0.0.1 as its proxy, so rate limits count per shopper, as in production."""
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    return {"n": len(ordered), "median": statistics.median(ordered), "p95": at(95), "p99": at(99),
            "min": ordered[0], "max": ordered[-1]}


def command_line() -> str:
    return " ".join([Path(sys.executable).name, "-m", *sys.argv[:1][0:0], *sys.argv])


def write(name: str, doc: dict[str, Any], table: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    stamp = doc["machine"]
    header = (f"# {doc['title']}\n\n"
              f"Command: `{doc['command']}`  \n"
              f"Machine: {stamp['cores']} cores, {stamp['cpu']}; Python {stamp['python']}; git {stamp['git']}; "
              f"{stamp['when']}  \n"
              f"Versions: {', '.join(f'{k} {v}' for k, v in stamp['versions'].items())}\n\n")
    (RESULTS / f"{name}.md").write_text(header + table + "\n")
