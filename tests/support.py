"""Helpers shared by tests: a real sandbox process, and a gateway client that speaks GraphQL."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from connectors.checkout import CheckoutStore
from gateway.app import create_app
from gateway.services import running_services
from gateway.settings import Settings, load_settings
from resolvers.context import Services
from sandbox.handle import Sandbox, run_sandbox
from sandbox.redis_servers import RedisServer, redis_server_binary, run_redis_server  # noqa: F401 (tests use them from here)

ROOT = Path(__file__).resolve().parent.parent
# The db indexes a test run owns and empties, a pair per run: the cache's, then checkout's (on a Redis of its
# own). Each run claims a free pair with a lock held for its life, so two runs on one machine (CI beside a
# developer's, or a helper's) never empty each other's Redis mid-test.
TEST_REDIS_DB_PAIRS = ((13, 12), (11, 10), (9, 8), (7, 6), (5, 4), (3, 2))
PRODUCT_PAGE_QUERY = (ROOT / "gateway" / "static" / "product-page.graphql").read_text()
# The storefront's own page: five deferred parts (`$handle`, `$shipTo`, `$engraving`).
STOREFRONT_PAGE_QUERY = (ROOT / "storefront" / "operations" / "ProductPage.graphql").read_text()
US_ADDRESS = {"countryCode": "US", "provinceCode": "NY", "zip": "10001"}


@functools.cache
def claimed_redis_dbs() -> tuple[int, int]:
    """This run's pair of db indexes (see TEST_REDIS_DB_PAIRS): the first whose lock no other run holds."""
    for pair in TEST_REDIS_DB_PAIRS:
        lock = open(Path(tempfile.gettempdir()) / f"bezel-tests-redis-db{pair[0]}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _HELD_LOCKS.append(lock)  # released when the process ends, however it ends
        return pair
    raise RuntimeError(f"{len(TEST_REDIS_DB_PAIRS)} test runs already hold every pair of Redis db indexes")


_HELD_LOCKS: list[IO[str]] = []


def redis_test_url(db: int | None = None) -> str:
    """REDIS_URL (default redis://127.0.0.1:6379) pointed at one of the tests' own db indexes (this run's
    cache index, unless another is named)."""
    db = claimed_redis_dbs()[0] if db is None else db
    base = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
    return urlunsplit((base.scheme, base.netloc, f"/{db}", base.query, ""))


@contextlib.contextmanager
def sandbox_for_tests() -> Iterator[Sandbox]:
    """The tests' sandbox: vendors at 5% of their usual latency, dice seeded for repeatable faults.

    Its webhooks go nowhere, and the ERP passes each change on to the inventory system at once: the
    tests of the gap between them, and of webhooks, start a sandbox of their own (`tests/sandbox`)."""
    with run_sandbox(latency_scale=0.05, seed=7, erp_sync_delay_ms=0) as sandbox:
        yield sandbox


# Tests assert behaviour, not speed: a healthy sandbox vendor must never trip a timeout because a busy
# 2-core CI machine paused the test process. Tests about timeouts set their own, shorter ones.
ROOMY = {"BEZEL_GATEWAY__BUDGET_MS": "5000", "BEZEL_CHECKOUT__REDIS_TIMEOUT_MS": "5000",
         **{f"BEZEL_VENDORS__{v}__TIMEOUT_MS": "2500"
            for v in ("CATALOG", "INVENTORY", "TAX", "INSURANCE", "BNPL", "ENGRAVING")},
         # Every test request comes from one address: client budgets as if it were a whole crowd. The tests
         # about those budgets set their own.
         **{f"BEZEL_LIMITS__{b}": "100000/second" for b in ("PAGES", "CHECKOUT", "ORDER_LOOKUPS", "DECLINES")},
         "BEZEL_CHECKOUT__MAX_IN_FLIGHT_PER_CLIENT": "1000", "BEZEL_ADMIN__PORT": "0",
         # A test process (gateway, client and test in one event loop) on a busy CI machine runs its loop
         # late whatever the test does: the in-flight limit and the hedging rule would follow that. The
         # tests of both set the shipped target back.
         "BEZEL_GATEWAY__LOOP_LAG_TARGET_MS": "1000",
         # The demo storefront's operations would be trusted documents: tests of the storefront ask for it.
         "BEZEL_STOREFRONT__ENABLED": "false"}

# Production on the tests' sandbox: production refuses vendors at the sandbox (empty urls) and query texts,
# so the tests of its behaviour run as a staging deployment would, with those two overrides on.
STAGING = {"BEZEL_ENV": "production", "BEZEL_INSECURE__ALLOW_VENDORS": "true",
           "BEZEL_INSECURE__ALLOW_DOCUMENTS": "true"}

# What a whole test run may switch for every gateway it starts (`make test` runs the end-to-end and schema
# tests again with BEZEL_GATEWAY__FAST_PATH=false): `settings_for` keeps the runner's environment, and a
# test that spawns `bezel serve` from a clean one passes these on (`run_switches()`).
RUN_SWITCHES = ("BEZEL_GATEWAY__FAST_PATH",)


def run_switches() -> dict[str, str]:
    return {name: os.environ[name] for name in RUN_SWITCHES if name in os.environ}


def settings_for(sandbox: Sandbox, **env: str) -> Settings:
    """Settings as `bezel serve` would load them, pointed at the test's sandbox, with roomy timeouts,
    plus `BEZEL_*` overrides."""
    saved = dict(os.environ)
    try:
        # REDIS_URL names the server the tests' own db indexes live on (`redis_test_url`); a gateway uses
        # Redis only when its test hands it one, or every test would share one page cache.
        for name in ("REDIS_URL", "BEZEL_REDIS__URL", "BEZEL_CHECKOUT__REDIS_URL", "BEZEL_CONFIG"):
            os.environ.pop(name, None)
        os.environ["BEZEL_SANDBOX__URL"] = sandbox.url
        os.environ.setdefault("BEZEL_ENV", "test")
        os.environ.update(ROOMY)
        os.environ.update(env)
        return load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class Gateway:
    http: httpx.AsyncClient
    app: Any = None

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = await self.post(query, variables, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.http.post("/graphql", json=body, **kwargs)


@contextlib.asynccontextmanager
async def run_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """The gateway in-process (its vendors over real HTTP), with its lifespan run."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bezel.test", timeout=30) as http:
            yield Gateway(http, app)


@dataclass
class Served:
    """A gateway served by uvicorn in this process on a real TCP port (as `bezel serve`'s worker serves
    it: `gateway.runner.gateway_server`), its app at hand."""

    url: str
    app: Any
    stop: Any  # () -> None: what SIGTERM does to a worker (streams ended first, then uvicorn's drain)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/graphql"

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services


@contextlib.asynccontextmanager
async def serve_in_process(settings: Settings) -> AsyncIterator[Served]:
    """The gateway on uvicorn, on a free TCP port of this process, until the block ends (or `stop()`)."""
    import asyncio

    from gateway.app import end_streams
    from gateway.runner import gateway_server
    from sandbox.handle import free_port

    port = free_port()
    app = create_app(settings)
    server = gateway_server(app, settings, port=port)
    stopping = asyncio.Event()

    def stop() -> None:
        stopping.set()
        server.should_exit = True

    running = asyncio.gather(server.serve(), end_streams(app, stopping))
    try:
        while not server.started:
            if running.done():
                running.result()  # its start failed: say why
            await asyncio.sleep(0.02)
        yield Served(f"http://127.0.0.1:{port}", app, stop)
    finally:
        stop()
        await running


@dataclass
class Shop:
    """A process's services (vendors, the checkout store on a real Redis) over the sandbox in-process:
    for unit tests of checkout and the worker, with faults set straight on the sandbox's board."""

    services: Services
    sandbox: Any  # the sandbox ASGI app: `.board` (faults, calls) and `.sandbox` (stock, what was received)

    @property
    def store(self) -> CheckoutStore:
        assert self.services.store is not None
        return self.services.store

    def fault(self, vendor: str, **fault: Any) -> None:
        from sandbox.faults import Fault

        self.sandbox.board.faults[vendor] = Fault(**fault)

    def calls(self, vendor: str) -> int:
        return self.sandbox.board.calls.get(vendor, 0)


@contextlib.asynccontextmanager
async def shop_in_process(redis_url: str, **sections: dict[str, Any]) -> AsyncIterator[Shop]:
    from sandbox import create_app as create_sandbox

    box = create_sandbox(latency_scale=0.0, seed=7, erp_sync_delay_ms=0)  # the ERP's sales reach the inventory at once
    settings = load_settings(None, env="test", sandbox={"url": "http://sandbox"}, redis={"url": redis_url},
                             **sections)
    async with running_services(settings, vendor_transport=httpx.ASGITransport(app=box)) as services:
        yield Shop(services, box)


async def scrape(gateway: Gateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from gateway.admin import admin_app  # the admin port's app: in production /metrics is only there

    transport = httpx.ASGITransport(app=admin_app(gateway.app))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin.test") as admin:
        response = await admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):  # parses, or the test fails
        for s in family.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k not in {"otel_scope_name",
                                                                                    "otel_scope_version"}))
            samples[(s.name, labels)] = s.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """The sum of samples named `name` whose labels include `labels` (0 if none yet)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def error_codes(result: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["extensions"]["code"], e["extensions"].get("vendor")) for e in result.get("errors") or []]




def with_typename_everywhere(text: str) -> str:
    """What Apollo Client sends (its default `addTypename`; its manifest generator too): `__typename` added to
    every selection set but the operation's, the deferred fragments' included."""
    from graphql import FieldNode, NameNode, OperationDefinitionNode, SelectionSetNode, parse, print_ast, visit
    from graphql.language import Visitor

    class AddTypename(Visitor):
        def enter_selection_set(self, node: SelectionSetNode, _key: object, parent: object, *_: object) -> object:
            if isinstance(parent, OperationDefinitionNode):
                return None
            if any(isinstance(s, FieldNode) and s.name.value == "__typename" for s in node.selections):
                return None
            typename = FieldNode(name=NameNode(value="__typename"), arguments=(), directives=())
            return SelectionSetNode(selections=(*node.selections, typename))

    return print_ast(visit(parse(text), AddTypename()))
