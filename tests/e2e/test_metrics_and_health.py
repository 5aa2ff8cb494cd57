"""/metrics counts what happened, /readyz tells degraded from down, and the container is built right."""

from __future__ import annotations

import asyncio
import re
import tomllib

from gateway.app import create_app
from gateway.cli import _parser
from gateway.upkeep import StockKeeper
from sandbox.handle import Sandbox, free_port
from tests.e2e.test_checkout import PLACE, order_input, variant
from tests.support import PRODUCT_PAGE_QUERY, ROOT, US_ADDRESS, run_gateway, scrape, settings_for, value


async def test_vendor_counters_move_by_the_traffic_and_faults_sent(sandbox: Sandbox) -> None:
    env = {"BEZEL_VENDORS__TAX__CACHE_TTL_S": "0.2", "BEZEL_VENDORS__TAX__REVALIDATE_S": "0"}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        before = await scrape(gateway)
        await gateway.gql(PRODUCT_PAGE_QUERY)  # cold: every vendor live
        await gateway.gql(PRODUCT_PAGE_QUERY)  # warm: tax and the rest from cache (stock below safety: live)
        await asyncio.sleep(0.25)
        sandbox.fault("tax", status=500)
        await gateway.gql(PRODUCT_PAGE_QUERY)  # tax fails: its last answer stands in
        other = {**US_ADDRESS, "zip": "10002"}
        await gateway.gql("""query($a: AddressInput!) { product(handle: "aurelia-solitaire-ring") {
            taxEstimate(shipTo: $a) { rate } } }""", {"a": other})  # tax fails, nothing to stand in
        after = await scrape(gateway)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("bezel_vendor_calls_total", vendor="tax", outcome="live") == 1
    assert delta("bezel_vendor_calls_total", vendor="tax", outcome="cache") == 1
    assert delta("bezel_vendor_calls_total", vendor="tax", outcome="stale") == 1
    assert delta("bezel_vendor_calls_total", vendor="tax", outcome="error") == 1
    assert delta("bezel_vendor_fallbacks_total", vendor="tax") == 1
    assert delta("bezel_vendor_unavailable_total", vendor="tax") == 1
    assert delta("bezel_vendor_calls_total", vendor="engraving", outcome="cache") == 2
    assert delta("bezel_vendor_call_duration_seconds_count", vendor="tax") == 3  # asked thrice; once from cache
    assert delta("bezel_graphql_request_duration_seconds_count", operation="ProductPage", type="query") == 3
    assert delta("bezel_graphql_request_duration_seconds_count", operation="anonymous", type="query") == 1
    assert delta("bezel_cache_lookups_total", tier="local", result="hit") >= 5
    assert delta("bezel_cache_lookups_total", tier="local", result="miss") >= 6
    assert value(after, "bezel_breaker_state", vendor="tax") == 0  # closed (the gauge is there per vendor)
    assert {dict(ls)["vendor"] for (n, ls) in after if n == "bezel_breaker_state"} >= {
        "catalog", "inventory", "tax", "insurance", "bnpl", "engraving", "payments", "erp", "wms", "crm"}


async def test_checkout_counters_and_reconciliation(sandbox: Sandbox, redis_url: str) -> None:
    async with run_gateway(settings_for(sandbox, REDIS_URL=redis_url)) as gateway:
        before = await scrape(gateway)
        hoops = await variant(gateway, "gold-huggie-hoops", 2)
        sandbox.set_stock(hoops["sku"], 4)
        ok = (await gateway.gql(PLACE, {"i": order_input([{"variantId": hoops["id"]}])}))["data"]["placeOrder"]
        assert ok["order"]
        declined = order_input([{"variantId": hoops["id"]}], token="tok_chargeDeclined")
        assert (await gateway.gql(PLACE, {"i": declined}))["data"]["placeOrder"]["userErrors"]
        keeper = StockKeeper(gateway.app.state.services, gateway.app.state.services.store,
                             gateway.app.state.settings.worker)
        await keeper.reconcile()
        sandbox.set_stock(hoops["sku"], 1)  # three sold in the boutique
        assert await keeper.reconcile() == 1
        after = await scrape(gateway)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("bezel_checkout_requests_total", outcome="confirmed") == 1
    assert delta("bezel_checkout_requests_total", outcome="PAYMENT_DECLINED") == 1
    assert delta("bezel_checkout_duration_seconds_count") == 2
    assert delta("bezel_order_confirmation_delay_seconds_count") == 1
    assert delta("bezel_payment_failures_total", reason="generic_decline") == 1
    assert delta("bezel_inventory_mismatches_total") == 1


async def test_readyz_says_degraded_when_redis_is_down_and_ok_when_it_is_not(sandbox: Sandbox, redis_url: str
                                                                             ) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with run_gateway(settings_for(sandbox, REDIS_URL=dead, BEZEL_REDIS__TIMEOUT_MS="50")) as gateway:
        await gateway.gql('{ product(handle: "gold-huggie-hoops") { title } }')  # the cache tier notices
        response = await gateway.http.get("/readyz")
        page = await gateway.gql('{ product(handle: "gold-huggie-hoops") { title } }')
    assert response.status_code == 200  # degraded, not down: pages still answer
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "degraded"
    assert body["checks"]["redis"]["order_store"] == "unreachable"
    assert body["checks"]["redis"]["cache_tier"] == "degraded"
    assert page["data"]["product"]["title"] == "Gold Huggie Hoops"

    async with run_gateway(settings_for(sandbox, REDIS_URL=redis_url)) as gateway:
        healthy = (await gateway.http.get("/readyz")).json()
        sandbox.fault("tax", status=500)
        for zip_code in range(10001, 10012):  # distinct keys: enough failures to open tax's breaker
            await gateway.gql("""query($a: AddressInput!) { product(handle: "gold-huggie-hoops") {
                taxEstimate(shipTo: $a) { rate } } }""", {"a": {**US_ADDRESS, "zip": str(zip_code)}})
        opened = (await gateway.http.get("/readyz")).json()
    assert healthy["status"] == "ok"
    assert healthy["checks"]["redis"] == {"status": "ok", "cache_tier": "ok", "invalidations": "subscribed",
                                          "order_store": "ok"}
    assert opened["status"] == "degraded"
    assert opened["checks"]["vendors"]["tax"]["breaker"] == "open"


async def test_readyz_is_503_until_the_gateway_has_started(sandbox: Sandbox) -> None:
    import httpx

    app = create_app(settings_for(sandbox))  # lifespan not run: nothing to serve with yet
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bezel.test") as client:
        response = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert response.status_code == 503
    assert alive.status_code == 200


def test_the_dockerfile_builds_a_slim_non_root_image_from_the_lock_file() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for name, default in re.findall(r"^ARG\s+(\w+)=(\S+)", text, flags=re.MULTILINE):  # the defaults users get
        text = text.replace(f"${{{name}}}", default)
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.MULTILINE)
    assert len(stages) >= 2, "multi-stage"
    named = {stage for _, stage in stages}
    assert all("slim" in image for image, _ in stages if image not in named)  # bases; the rest build on them
    assert "sandbox" in {stage for _, stage in stages}, "the sandbox has its own target"
    assert re.search(r"uv sync --locked --no-dev", text), "installs exactly the lock file, without dev tools"
    final = text[text.rindex("FROM"):]
    assert "COPY sandbox" not in final, "the gateway image leaves the sandbox out"
    user = re.findall(r"^USER\s+(\S+)", final, flags=re.MULTILINE)
    assert user
    assert user[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK (.*\\\n)*.*/healthz", final, flags=re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["bezel"\]', final, flags=re.MULTILINE)
    cmd = re.search(r'^CMD \["(\w+)"', final, flags=re.MULTILINE)
    assert cmd is not None
    assert cmd.group(1) == "serve"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["bezel"] == "gateway.cli:main"
    assert _parser().parse_args(["serve"]).run.__name__ == "_serve"  # the command exists
    for needed in ("pyproject.toml", "uv.lock"):
        assert needed in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored
    assert ".git" in ignored


def test_compose_wires_gateway_workers_sandbox_redis_and_jaeger() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"gateway", "worker", "sandbox", "redis", "jaeger"} <= set(services)
    for name in ("gateway", "worker"):
        env = services[name]["environment"]
        # Jaeger takes traces alone: an endpoint for traces only, so no metrics are pushed at it
        assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://jaeger:4318/v1/traces"
        assert not any(key.startswith("OTEL_EXPORTER_OTLP_") and "TRACES" not in key for key in env)
        assert env["REDIS_URL"].startswith("redis://redis:6379")
        assert env["BEZEL_SANDBOX__URL"] == "http://sandbox:8900"
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert "127.0.0.1:16686:16686" in services["jaeger"]["ports"]
    assert services["worker"]["command"][0] == "worker"  # after the image's ENTRYPOINT ["bezel"]


def test_compose_publishes_only_graphql_beyond_this_machine_and_splits_redis_by_eviction_policy() -> None:
    """Admin APIs and metrics (the sandbox's /_admin, the gateway's admin port, the worker's metrics,
    Jaeger) are bound to 127.0.0.1; checkout's Redis never evicts, the page cache's evicts LRU."""
    import yaml

    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    public = [(name, port) for name, service in services.items() for port in service.get("ports", [])
              if not str(port).startswith("127.0.0.1:")]
    assert public == [("gateway", "8000:8000")]
    assert "noeviction" in services["redis-checkout"]["command"]
    assert "allkeys-lru" in services["redis"]["command"]
    for name in ("gateway", "worker"):
        assert services[name]["environment"]["BEZEL_CHECKOUT__REDIS_URL"].startswith("redis://redis-checkout:")
