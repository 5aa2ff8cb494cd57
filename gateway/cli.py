"""`bezel`: run the gateway, the sandbox, or both.

    bezel dev     [--port 8000] [--sandbox-port 8900] [--config PATH]   sandbox + gateway + workers (`make run`)
    bezel serve   [--port 8000] [--workers N] [--config PATH]           the gateway alone (N processes)
    bezel reload  [--pid PID]                                           a running `serve` re-reads its config
    bezel worker  [--config PATH]                                       order sync and stock upkeep
    bezel sandbox [--port 8900] [--latency-scale 1.0] [--webhooks-to URL]   the vendor sandbox alone
    bezel config  [--config PATH]                                       the effective configuration
    bezel schema                                                        the GraphQL schema (SDL)
    bezel documents build DIR... [-o FILE] | check MANIFEST             trusted documents (manifests)
    bezel orders show ID | dead | redrive --system S (--id ID | --all)   an order's sync; dead letters

The sandbox (`dev`, `sandbox`) is imported only when asked for: it is not part of the production
wheel or image, where those two commands say so and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.routing import Route

from gateway import order_commands, supervisor, telemetry
from gateway.admin import admin_app, healthz, prometheus_metrics
from gateway.app import create_app, end_streams
from gateway.devredis import PrivateRedis
from gateway.errors import ConfigError
from gateway.runner import gateway_server, serve_all, server
from gateway.services import running_services
from gateway.settings import Settings, load_settings, log_insecure_overrides, secret
from gateway.worker import run_workers

log = logging.getLogger("bezel")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    # `bezel sandbox` hands every flag after it to the sandbox's own parser (its --help included). Not an
    # argparse.REMAINDER positional: that takes what follows only once a non-flag came first, so
    # `bezel sandbox --port 8900` would be "unrecognized arguments".
    args, rest = parser.parse_known_args(argv)
    if args.run is _sandbox:
        args.sandbox_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    # JSON lines for machines (serve, worker); text for people (dev, sandbox, config).
    telemetry.configure_logging("json" if args.run in (_serve, _worker) else "text")
    if args.run in (_worker, _dev) or (args.run is _serve and args.as_worker):  # not for the supervisor
        installed = telemetry.setup("bezel-worker" if args.run is _worker else "bezel-gateway")
    else:
        installed = None
    try:
        return int(args.run(args) or 0)
    except ConfigError as exc:
        print(f"bezel: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if installed is not None:
            installed.shutdown()


def _settings(args: argparse.Namespace, **overrides: dict[str, Any]) -> Settings:
    return load_settings(args.config, **overrides)


def _sandbox_package() -> ModuleType:
    """The sandbox, from a development checkout; a production install does not have it."""
    try:
        import sandbox
    except ImportError as exc:
        raise ConfigError("the vendor sandbox is not installed here (it is not part of the production image); "
                          "run it from a development checkout or the sandbox image") from exc
    return sandbox


# The webhook secrets the gateway checks and the sandbox signs with (see `[events]` in bezel.toml).
WEBHOOK_SECRET_ENV = ("SHOPIFY_WEBHOOK_SECRET", "SHOPIFY_WEBHOOK_SECRET_PREVIOUS", "COMMERCETOOLS_WEBHOOK_TOKEN",
                      "ERP_WEBHOOK_SECRET")


def _share_webhook_secrets() -> None:
    """Give the sandbox and the gateway the same webhook secrets: fresh random ones for those the
    environment does not set, so `make run` needs no credentials. Before settings or the sandbox read them."""
    for name in WEBHOOK_SECRET_ENV:
        if not secret(name):
            os.environ[name] = secrets.token_hex(32)


def _dev(args: argparse.Namespace) -> None:
    sandbox = _sandbox_package()
    host = args.host
    sandbox_url = f"http://{host}:{args.sandbox_port}"
    _share_webhook_secrets()
    admin: dict[str, Any] = {"admin": {"port": args.admin_port}} if args.admin_port is not None else {}
    settings = _settings(args, sandbox={"url": sandbox_url}, **admin)
    private = None
    if not settings.redis_url:  # checkout needs Redis: start a private one, with its data kept on disk
        private = PrivateRedis(Path(args.data_dir) / "redis", args.redis_port)
        url = private.start()
        if url:
            settings = _settings(args, sandbox={"url": sandbox_url}, redis={"url": url}, **admin)
    port = args.port or settings.gateway.port
    gateway_url = f"http://{host}:{port}"
    log.info("sandbox vendors on %s (admin API: %s/_admin/calls)", sandbox_url, sandbox_url)
    log.info("webhooks wired: the sandbox's catalog, inventory and ERP deliver to %s/webhooks/<source>, signed "
             "with the secrets in this process's environment (%s/_admin/webhooks)", gateway_url, sandbox_url)
    log.info("GraphiQL on http://%s:%s/graphql", host, port)
    background = [lambda stop: _work(settings, stop)] if settings.redis_url else []
    vendors = sandbox.create_app(latency_scale=args.latency_scale, webhooks_to=gateway_url)
    app = create_app(settings)
    background.append(lambda stop: end_streams(app, stop))
    # As `bezel serve` does: /metrics and /readyz on the admin port, where Prometheus will look. Made first:
    # each server sets uvicorn's logger's level, and the last one's (info) is the one that holds.
    admin_socket = _dev_admin_socket(settings)
    servers = [] if admin_socket is None else [
        server(admin_app(app), fd=admin_socket.detach(), access_log=False, log_level="warning")]
    servers += [server(vendors, host=host, port=args.sandbox_port, access_log=False),
                gateway_server(app, settings, host=host, port=port)]
    try:
        asyncio.run(serve_all(*servers, background=background))
    finally:
        if private is not None:
            private.stop()


def _dev_admin_socket(settings: Settings) -> socket.socket | None:
    """The admin port `bezel dev` serves as `bezel serve` would, bound now; None if there is none (port 0), or
    if it is taken: by another `bezel dev` (a test run starts several), or a `bezel serve` on this machine.
    Then /metrics and /readyz are on the gateway's port alone (outside production they are there too)."""
    if not settings.admin.port:
        return None
    try:
        sock = supervisor.listen(settings.admin.host, settings.admin.port)
    except OSError as exc:
        log.warning("admin port %s:%s not available (%s): /metrics and /readyz on the gateway's port only "
                    "(--admin-port N to choose another)", settings.admin.host, settings.admin.port, exc.strerror)
        return None
    log.info("admin (metrics, readiness) on http://%s:%s", settings.admin.host, settings.admin.port)
    return sock


async def _work(settings: Settings, stop: asyncio.Event) -> None:
    async with running_services(settings) as services:
        assert services.store is not None
        await run_workers(services, services.store, settings.worker, stop)


def _worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    log_insecure_overrides(settings)
    if not settings.checkout_redis_url:
        print("bezel worker: the order stream lives in Redis; set REDIS_URL (or [redis] url)", file=sys.stderr)
        return 2
    log.info("syncing orders for %s; /metrics and /healthz on port %d", ", ".join(settings.worker.consumers),
             args.metrics_port)
    probe = server(worker_probe_app(), host=args.host, port=args.metrics_port, access_log=False, log_level="warning")
    asyncio.run(serve_all(probe, background=[lambda stop: _work(settings, stop)]))
    return 0


def _serve(args: argparse.Namespace) -> int:
    """The supervisor (`gateway.supervisor`): binds the sockets, runs and replaces the workers."""
    if args.as_worker:
        return _serve_worker(args)
    overrides: dict[str, Any] = {"admin": {"port": args.admin_port}} if args.admin_port is not None else {}
    if args.workers is not None:
        overrides["gateway"] = {"workers": args.workers}
    settings = _settings(args, **overrides)
    host = args.host or settings.gateway.host
    port = args.port or settings.gateway.port
    sockets = [supervisor.listen(host, port)]
    if settings.admin.port:  # /metrics and /readyz for the platform (in production, only there)
        sockets.append(supervisor.listen(settings.admin.host, settings.admin.port))
        log.info("admin (metrics, readiness) on http://%s:%s", settings.admin.host, settings.admin.port)
    log.info("gateway on http://%s:%s", host, port)
    config = args.config
    bound = (settings.gateway.host, settings.gateway.port, settings.admin.host, settings.admin.port)
    return supervisor.Supervisor(
        command=supervisor.worker_command(config, [s.fileno() for s in sockets], admin=len(sockets) > 1),
        sockets=sockets, count=supervisor.worker_count(settings.gateway.workers),
        reload_settings=lambda: _settings(args, **overrides), bound=bound).run()


def _serve_worker(args: argparse.Namespace) -> int:
    """One worker: the gateway on the supervisor's sockets, its own event loop."""
    settings = _settings(args)
    fds = [int(fd) for fd in args.as_worker.split(",")]
    app = create_app(settings)
    servers = [gateway_server(app, settings, fd=fds[0])]
    if len(fds) > 1:
        servers.append(server(admin_app(app), fd=fds[1], access_log=False, log_level="warning"))

    async def ready(stop: asyncio.Event) -> None:
        while not all(s.started for s in servers) and not stop.is_set():  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(0.02)
        if args.ready_fd is not None:
            supervisor.notify_ready(args.ready_fd)

    asyncio.run(serve_all(*servers, background=[ready, lambda stop: end_streams(app, stop)]))
    return 0


def _reload(args: argparse.Namespace) -> int:
    """`bezel reload`: SIGHUP to the `bezel serve` supervisor (the one on this machine or container)."""
    pids = [args.pid] if args.pid else supervisor.find_supervisors()
    if len(pids) != 1:
        print(f"bezel reload: {'no' if not pids else len(pids)} `bezel serve` supervisor(s) found; "
              "name one with --pid", file=sys.stderr)
        return 2
    os.kill(pids[0], signal.SIGHUP)
    print(f"bezel reload: asked process {pids[0]} to reload its configuration (its log says how it went)")
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    """`bezel sandbox ...` is `python -m sandbox ...` (same flags: see `bezel sandbox --help`)."""
    _sandbox_package()
    from sandbox.__main__ import main as sandbox_main

    return sandbox_main(args.sandbox_args)


def worker_probe_app() -> Starlette:
    """What a worker serves: liveness and its metrics (queue gauges, sync outcomes and delays)."""
    return Starlette(routes=[Route("/healthz", healthz), Route("/metrics", prometheus_metrics)])


def _config(args: argparse.Namespace) -> None:
    """Print the effective configuration (defaults, file and environment merged) as JSON."""
    settings = _settings(args)
    doc = settings.model_dump(mode="json")
    doc["redis"]["url"] = _redact(settings.redis_url)
    print(json.dumps(doc, indent=2))


def _schema(args: argparse.Namespace) -> int:
    from gateway.documents import commands

    return commands.print_schema()


def _documents(args: argparse.Namespace) -> int:
    from gateway.documents import commands

    if args.action == "build":
        return commands.build(args.paths, args.output)
    return commands.check(args.paths[0], _settings(args))


def _orders(args: argparse.Namespace) -> int:
    return order_commands.run(args, _settings(args))


def _redact(url: str) -> str:
    """A Redis URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bezel", description="GraphQL gateway for high-ticket storefronts.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def config_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", help="bezel.toml to read (default: $BEZEL_CONFIG, else built-in defaults)")

    dev = sub.add_parser("dev", help="run the sandbox vendors and the gateway together")
    config_arg(dev)
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, help="gateway port (default 8000)")
    dev.add_argument("--admin-port", type=int, help="port for /metrics and /readyz (default from config: 8001; "
                     "0: none); outside production they are on the gateway port too")
    dev.add_argument("--sandbox-port", type=int, default=8900)
    dev.add_argument("--latency-scale", type=float, default=1.0, help="multiply vendors' usual latency")
    dev.set_defaults(run=_dev)

    dev.add_argument("--redis-port", type=int, default=6390, help="private Redis port when REDIS_URL is unset")
    dev.add_argument("--data-dir", default="var", help="where the private Redis keeps its data")

    worker = sub.add_parser("worker", help="sync placed orders to ERP, WMS, CRM and the insurer")
    config_arg(worker)
    worker.add_argument("--host", default="127.0.0.1", help="interface for /metrics and /healthz")
    worker.add_argument("--metrics-port", type=int, default=9464, help="port for /metrics and /healthz")
    worker.set_defaults(run=_worker)

    serve = sub.add_parser("serve", help="run the gateway")
    config_arg(serve)
    serve.add_argument("--host", help="interface to bind (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default from config: 8000)")
    serve.add_argument("--admin-port", type=int, help="port for /metrics and /readyz (default from config: 8001; "
                       "0: none)")
    serve.add_argument("--workers", type=int, help="gateway processes on the port (default from config: 1; "
                       "0: one per core)")
    serve.add_argument("--as-worker", help=argparse.SUPPRESS)  # set by the supervisor: the sockets' fds
    serve.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    serve.set_defaults(run=_serve)

    reload = sub.add_parser("reload", help="make a running `bezel serve` read its configuration again (SIGHUP)")
    reload.add_argument("--pid", type=int, help="the supervisor's process id (default: the one found here)")
    reload.set_defaults(run=_reload)

    config = sub.add_parser("config", help="print the effective configuration as JSON")
    config_arg(config)
    config.set_defaults(run=_config)

    schema = sub.add_parser("schema", help="print the GraphQL schema (SDL)")
    schema.set_defaults(run=_schema)

    documents = sub.add_parser("documents", help="build a trusted-document manifest, or check one against the schema")
    config_arg(documents)
    documents.add_argument("action", choices=["build", "check"])
    documents.add_argument("paths", nargs="+", help="build: .graphql files or folders; check: the manifest")
    documents.add_argument("-o", "--output", help="build: write the manifest here (default: stdout)")
    documents.set_defaults(run=_documents)

    orders = sub.add_parser("orders", help="an order's downstream sync, the dead letters, and redriving them")
    order_commands.add_arguments(orders, config_arg)
    orders.set_defaults(run=_orders)

    # No flags of its own (not even --help): `main` passes all of them to `python -m sandbox`'s parser.
    sandbox = sub.add_parser("sandbox", help="run the vendor sandbox (flags: bezel sandbox --help)", add_help=False)
    sandbox.set_defaults(run=_sandbox, sandbox_args=[])
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
