"""What any GraphQL request costs the gateway here before a page's own work: the floor under every target,
and how much of it is the ASGI server's.

`{ __typename }` asks no vendor and resolves nothing, so what it costs is HTTP (the server, Starlette,
the sockets and the kernel's work charged to the process), strawberry's request pipeline and
Bezel's edge (admission, rate limits, context, the request log decision). Measured two ways:

- at fixed rates (100 requests/s by default, open loop): CPU per request as a page rate sees it. The
  cost per request falls as the rate rises: on these VMs waking an idle core (the client's, the
  vendor's, our own) is charged to the process that sends, and at low rates every answer wakes one;
- at saturation (wrk, 16 connections): the cheapest a request gets, the loop always busy.

The same app (`create_app` with production settings, as a `bezel serve` worker builds it) under each
server, one worker, alone on core 0, CPU counted over the whole process tree (a supervisor included):

- `uvicorn`: `bezel serve` as shipped (uvicorn, httptools with the edge's header limits, asyncio's loop);
- `uvicorn-uvloop`: the same with uvloop as asyncio's loop (installed by a `sitecustomize` on the
  worker's path: the bench's switch, not a setting);
- `granian`, `granian-uvloop`: granian's ASGI interface (Rust HTTP, one worker, asyncio's or uvloop's
  loop) serving `bench.floor:asgi_app`; `granian-rust` (asked for by name): uvloop, granian's own task
  implementation and its single-threaded runtime. Without `bezel serve`'s supervisor and edge header limits
  (granian has its own), so it is the server's cost, not a drop-in.

Rounds alternate the order (A B C, C B A, ...), so drift in the machine lands on every server alike;
the tables give medians over rounds. granian and uvloop are in the `bench` dependency group.

    .venv/bin/python -m bench.floor        # the four side by side at 100 rps, 4 rounds: results/floor.*, ~9 min
    .venv/bin/python -m bench.floor --servers uvicorn --rates 25,100,200 --rounds 1 --name floor-rates
    .venv/bin/python -m bench.floor --profile uvicorn --seconds 10   # results/floor_profile.txt
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench import env, loadgen, wrk
from bench.summaries import wrk_summary

BODY = orjson.dumps({"query": "{ __typename }"})
RATES = (100,)
SERVERS = ("uvicorn", "uvicorn-uvloop", "granian", "granian-uvloop")
# granian's own asyncio task implementation (Python < 3.12) on its single-threaded runtime, on uvloop: its
# fastest settings for one worker, measured on request (`--servers uvicorn,granian-rust`).
GRANIAN = {"granian": ["--loop", "asyncio"], "granian-uvloop": ["--loop", "uvloop"],
           "granian-rust": ["--loop", "uvloop", "--task-impl", "rust", "--runtime-mode", "st"]}
_UVLOOP_SITE = "import uvloop\nuvloop.install()\n"


def _installed() -> set[str]:
    from importlib.util import find_spec

    return {name for name in ("granian", "uvloop") if find_spec(name) is not None}


def asgi_app() -> Any:
    """The gateway's app as a `bezel serve` worker builds it (settings from the file and environment),
    for an ASGI server started by its own command (granian's `--factory`)."""
    from gateway.app import create_app
    from gateway.settings import load_settings

    return create_app(load_settings())


@contextlib.contextmanager
def serving(box: env.Sandbox, name: str) -> Iterator[env.Process]:
    """The gateway under server `name` (see the module's docstring), ready to answer."""
    if name.startswith("uvicorn"):
        extra: dict[str, str] = {}
        if name == "uvicorn-uvloop":
            site = env.WORK / "uvloop-site"
            site.mkdir(parents=True, exist_ok=True)
            (site / "sitecustomize.py").write_text(_UVLOOP_SITE)
            extra["PYTHONPATH"] = str(site)
        with env.gateway(box, **extra) as gw:
            yield gw
        return
    port = env.free_port()
    args = env.pinned(env.GATEWAY_CORE, [
        str(env.BIN / "granian"), "--interface", "asgi", "--factory", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", *GRANIAN[name], "--http", "1", "--no-ws", "--log-level", "warning",
        "bench.floor:asgi_app"])
    url = f"http://127.0.0.1:{port}"
    with env.spawn(args, url, f"{url}/healthz", env.gateway_env(box), f"granian-{port}.log") as process:
        yield process


def profile(box: env.Sandbox, name: str, output: Path, *, seconds: int) -> dict[str, Any]:
    """py-spy on the serving process (the worker) while wrk saturates it: where the floor goes, by module."""
    from bench.profile_live import _py_spy

    with serving(box, name) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, [BODY] * 100, rate=20, seconds=3))  # warm-up
        spy = subprocess.Popen([_py_spy(), "record", "--nonblocking", "--rate", "250", "--format", "raw",
                                "--output", str(output), "--pid", str(env.worker_pid(gw)),
                                "--duration", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        result = wrk.run(url, [BODY], seconds=seconds, connections=16, name="floor")
        spy.wait(timeout=seconds + 30)
    return wrk_summary(result)


def one_round(box: env.Sandbox, name: str, rates: tuple[int, ...], seconds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"fixed_rate": {}}
    with serving(box, name) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, [BODY] * 100, rate=20, seconds=3))  # warm-up
        for rate in rates:
            cpu0 = gw.cpu_seconds()
            run = asyncio.run(loadgen.fixed_rate(url, [BODY] * (rate * seconds), rate=rate, seconds=seconds))
            cpu = gw.cpu_seconds() - cpu0
            out["fixed_rate"][str(rate)] = {"requests": len(run.samples), "non_200": len(run.samples) - len(run.ok),
                                            "gateway_cpu_us_per_request": round(cpu / max(1, len(run.ok)) * 1e6),
                                            "gateway_cpu_ms_per_second": round(cpu / seconds * 1000, 1)}
        if wrk.available():
            cpu0 = gw.cpu_seconds()
            result = wrk.run(url, [BODY], seconds=seconds, connections=16, name="floor")
            out["saturation"] = wrk_summary(result, gw.cpu_seconds() - cpu0)
    return out


def per_request_floor(box: env.Sandbox, *, servers: tuple[str, ...] = ("uvicorn",), rates: tuple[int, ...] = RATES,
                      rounds: int = 1, seconds: int = 10) -> dict[str, Any]:
    """Every server once per round, the order reversed every other round; each server's rounds and medians."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for r in range(rounds):
        for name in servers if r % 2 == 0 else tuple(reversed(servers)):
            runs[name].append(one_round(box, name, rates, seconds))
    return {"query": BODY.decode(), "rounds": rounds, "seconds": seconds,
            "servers": {name: {"median": _median(rs), "rounds": rs} for name, rs in runs.items()}}


def _median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def med(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    out: dict[str, Any] = {"fixed_rate": {}}
    for rate in rounds[0]["fixed_rate"]:
        rows = [r["fixed_rate"][rate] for r in rounds]
        us = [row["gateway_cpu_us_per_request"] for row in rows]
        out["fixed_rate"][rate] = {"gateway_cpu_us_per_request": med(us), "range_us": [min(us), max(us)],
                                   "gateway_cpu_ms_per_second": med([row["gateway_cpu_ms_per_second"] for row in rows]),
                                   "non_200": sum(row["non_200"] for row in rows)}
    sats = [r["saturation"] for r in rounds if "saturation" in r]
    if sats:
        us = [s["gateway_cpu_us_per_request"] for s in sats]
        out["saturation"] = {"throughput_rps": med([s["throughput_rps"] for s in sats]),
                             "gateway_cpu_us_per_request": med(us), "range_us": [min(us), max(us)],
                             "p50_ms": med([s["latency_ms"]["p50"] for s in sats]),
                             "non_2xx": sum(s["non_2xx"] for s in sats),
                             "socket_errors": sum(s["socket_errors"] for s in sats)}
    return out


def table(result: dict[str, Any]) -> str:
    lines = ["| server | load | gateway CPU per request (median; range over rounds) | gateway CPU per second | "
             "throughput | non-2xx |", "|---|---|---|---|---|---|"]
    for name, doc in result["servers"].items():
        m = doc["median"]
        for rate, row in m["fixed_rate"].items():
            lo, hi = row["range_us"]
            lines.append(f"| {name} | {rate} requests/s (open loop) | {row['gateway_cpu_us_per_request']:.0f} us "
                         f"({lo}-{hi}) | {row['gateway_cpu_ms_per_second']} ms | | {row['non_200']} |")
        sat = m.get("saturation")
        if sat:
            lo, hi = sat["range_us"]
            lines.append(f"| {name} | saturation (wrk, 16 connections) | {sat['gateway_cpu_us_per_request']} us "
                         f"({lo}-{hi}) | | {sat['throughput_rps']} requests/s, p50 {sat['p50_ms']} ms | "
                         f"{sat['non_2xx']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    from bench.common import machine, write

    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help=f"comma-separated, of: {', '.join(dict.fromkeys([*SERVERS, *GRANIAN]))}")
    parser.add_argument("--rates", default=",".join(map(str, RATES)), help="open-loop rates, requests/s")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10, help="per rate and per saturation run")
    parser.add_argument("--name", default="floor", help="results file: bench/results/NAME.{json,md}")
    parser.add_argument("--profile", metavar="SERVER",
                        help="instead: py-spy on SERVER at saturation, by module (results/floor_profile.txt)")
    args = parser.parse_args(argv)
    servers = tuple(s.strip() for s in args.servers.split(",") if s.strip())
    unknown = set(servers) - set(SERVERS) - set(GRANIAN)
    if unknown:
        parser.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    rates = tuple(int(r) for r in args.rates.split(",") if r.strip())
    needed = {part for name in servers for part in (*name.split("-"), *GRANIAN.get(name, ()))}
    missing = {"granian", "uvloop"} & needed - _installed()
    if missing:
        parser.error(f"not installed: {', '.join(sorted(missing))} (uv sync --group bench)")
    if args.profile:
        from bench.common import RESULTS
        from bench.profile_live import summarize

        collapsed = RESULTS / "floor_profile.collapsed"
        with env.sandbox() as box:
            sat = profile(box, args.profile, collapsed, seconds=args.seconds)
        text = (f"`{{ __typename }}` at saturation (wrk, 16 connections, {sat['throughput_rps']} requests/s), "
                f"py-spy on the {args.profile} worker, {args.seconds} s\n"
                f"Command: .venv/bin/python -m bench.floor {' '.join(sys.argv[1:])}\n\n{summarize(collapsed)}")
        (RESULTS / "floor_profile.txt").write_text(text)
        print(text)
        return
    with env.sandbox() as box:
        result = per_request_floor(box, servers=servers, rates=rates, rounds=args.rounds, seconds=args.seconds)
    stamp = machine()
    from importlib import metadata

    for extra in ("granian", "uvloop", "httptools"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            stamp["versions"][extra] = metadata.version(extra)
    command = " ".join([".venv/bin/python -m bench.floor", *(argv if argv is not None else sys.argv[1:])])
    doc = {"title": "The per-request floor: `{ __typename }`, by ASGI server", "command": command,
           "machine": stamp, **result}
    text = table(result)
    write(args.name, doc, text)
    print(text)


if __name__ == "__main__":
    main()
