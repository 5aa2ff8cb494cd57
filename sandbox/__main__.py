"""`python -m sandbox [--host] [--port 8900] [--latency-scale 1.0] [--seed N] [--access-log]
[--webhooks-to URL] [--erp-sync-delay-ms 60000]`.

Webhooks are signed with SHOPIFY_WEBHOOK_SECRET, COMMERCETOOLS_WEBHOOK_TOKEN and ERP_WEBHOOK_SECRET
(development defaults when unset: `sandbox.webhooks.DEFAULT_SECRETS`); give the gateway the same ones.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

import uvicorn

from sandbox.app import create_app
from sandbox.webhooks import DEFAULT_ERP_SYNC_DELAY_MS


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sandbox", description="Every vendor Bezel talks to, on one local port.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900)
    p.add_argument("--latency-scale", type=float, default=1.0, help="multiply vendors' usual latency")
    p.add_argument("--seed", type=int, help="seed the latency/fault/webhook dice for repeatable runs")
    p.add_argument("--access-log", action="store_true")
    p.add_argument("--webhooks-to", type=_url, default=os.environ.get("SANDBOX_WEBHOOKS_TO") or None, metavar="URL",
                   help="the gateway's base URL webhooks are POSTed to (<URL>/webhooks/<source>); "
                        "default $SANDBOX_WEBHOOKS_TO, else none: events are counted, not sent")
    # A string default goes through `type` too: a bad $SANDBOX_ERP_SYNC_DELAY_MS is a usage error, not a traceback.
    p.add_argument("--erp-sync-delay-ms", type=_millis, metavar="N",
                   default=os.environ.get("SANDBOX_ERP_SYNC_DELAY_MS") or str(DEFAULT_ERP_SYNC_DELAY_MS),
                   help="how long the ERP takes to pass a stock change on to the inventory system "
                        f"(default $SANDBOX_ERP_SYNC_DELAY_MS, else {DEFAULT_ERP_SYNC_DELAY_MS}; 0: at once)")
    return p


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{text}: not an http(s):// URL")
    return text.rstrip("/")


def _millis(text: str) -> int:
    value = int(text)  # argparse turns the ValueError into "invalid _millis value"
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more milliseconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not logging.getLogger().handlers:  # run on its own (not under `bezel`, which sets up logging)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    log = logging.getLogger("sandbox")
    log.info("sandbox vendors on http://%s:%s", args.host, args.port)
    log.info("webhooks to %s; the ERP passes stock on to the inventory after %d ms",
             args.webhooks_to or "nowhere (--webhooks-to URL)", args.erp_sync_delay_ms)
    app = create_app(latency_scale=args.latency_scale, seed=args.seed, webhooks_to=args.webhooks_to,
                     erp_sync_delay_ms=args.erp_sync_delay_ms)
    uvicorn.run(app, host=args.host, port=args.port, access_log=args.access_log, log_config=None,
                timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
