"""`python -m sandbox [--host] [--port 8900] [--latency-scale 1.0] [--seed N] [--access-log]`."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import uvicorn

from sandbox.app import create_app


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sandbox", description="Every vendor Bezel talks to, on one local port.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900)
    p.add_argument("--latency-scale", type=float, default=1.0, help="multiply vendors' usual latency")
    p.add_argument("--seed", type=int, help="seed the latency/fault dice for repeatable runs")
    p.add_argument("--access-log", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not logging.getLogger().handlers:  # run on its own (not under `bezel`, which sets up logging)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("sandbox").info("sandbox vendors on http://%s:%s", args.host, args.port)
    app = create_app(latency_scale=args.latency_scale, seed=args.seed)
    uvicorn.run(app, host=args.host, port=args.port, access_log=args.access_log, log_config=None,
                timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
