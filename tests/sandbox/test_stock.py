"""The sandbox's admin API for stock, prices and webhook settings, in process: what it accepts and answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox import create_app
from sandbox.webhooks import DEFAULT_SECRETS, Secrets

SKU = "HUG-Y14"


@pytest.fixture
async def box() -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(latency_scale=0, seed=3, erp_sync_delay_ms=0, secrets=Secrets())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        yield client, app


async def test_the_secrets_come_from_the_environment_else_development_defaults() -> None:
    assert Secrets.from_env({}).model_dump() == {**DEFAULT_SECRETS, "shopify_previous": None}
    env = {"SHOPIFY_WEBHOOK_SECRET": "a", "SHOPIFY_WEBHOOK_SECRET_PREVIOUS": "b", "ERP_WEBHOOK_SECRET": ""}
    assert Secrets.from_env(env).model_dump() == {**DEFAULT_SECRETS, "shopify": "a", "shopify_previous": "b"}


async def test_webhook_settings_start_undelivered_and_a_bad_update_is_refused(box: Any) -> None:
    """Defaults as documented; a partial update keeps the rest; an unknown or out-of-range field is a 422."""
    client, _ = box
    settings = (await client.get("/_admin/webhooks")).json()
    assert settings == {"to": None, "delay_ms": 50, "jitter_ms": 50, "loss_rate": 0.0, "duplicate_rate": 0.0,
                        "reorder_window_ms": 0, "retries": 2, "retry_backoff_ms": 500, "erp_sync_delay_ms": 0,
                        "secrets": {"shopify": True, "shopify_previous": False, "commercetools": True, "erp": True},
                        "counts": {"emitted": 0, "delivered": 0, "lost": 0, "duplicated": 0, "failed": 0,
                                   "pending": 0}}
    changed = (await client.put("/_admin/webhooks", json={"loss_rate": 0.5})).json()
    assert (changed["loss_rate"], changed["delay_ms"]) == (0.5, 50)
    for bad in ({"loss_rate": 2}, {"nope": 1}, {"to": "ftp://x"}, {"secrets": {"shopify": ""}}, {"secrets": 3}):
        assert (await client.put("/_admin/webhooks", json=bad)).status_code == 422, bad
    assert (await client.get("/_admin/webhooks/deliveries?limit=x")).status_code == 422


async def test_each_system_keeps_its_own_stock(box: Any) -> None:
    """PUT /stock sets both; the inventory and the ERP endpoints one each; a sales order is the ERP's, and
    with no sync delay the inventory follows within the same request."""
    client, app = box
    assert (await client.put(f"/_admin/stock/{SKU}", json={"quantity": 6})).json() == {
        "sku": SKU, "quantity": 6, "inventory": 6, "erp": 6}
    assert (await client.put(f"/_admin/inventory/stock/{SKU}", json={"quantity": 5})).json()["erp"] == 6
    assert (await client.put(f"/_admin/erp/stock/{SKU}", json={"quantity": 9, "reason": "return"})).json() == {
        "sku": SKU, "quantity": 8, "inventory": 8, "erp": 9}  # the ERP's +3 passed on at once, the shop's sale kept
    order = {"external_id": "o-1", "lines": [{"sku": SKU, "quantity": 2, "unit_price": "1.00"}]}
    assert (await client.post("/erp/api/v1/sales-orders", json=order)).status_code == 201
    assert (await client.get(f"/_admin/stock/{SKU}")).json() == {"sku": SKU, "quantity": 6, "inventory": 6, "erp": 7}
    app.sandbox.stock[SKU] = 1  # older code's one table: both systems, quietly
    assert (app.sandbox.erp_stock[SKU], app.sandbox.inventory_stock[SKU], app.sandbox.stock[SKU]) == (1, 1, 1)
    assert (await client.get("/_admin/webhooks")).json()["counts"]["emitted"] == 6  # 3 sets, 2 ERP, 1 sync


@pytest.mark.parametrize(("path", "body"), [
    (f"/_admin/stock/{SKU}", {"quantity": "3"}),
    (f"/_admin/stock/{SKU}", {"quantity": True}),
    (f"/_admin/inventory/stock/{SKU}", {"quantity": 3, "via": "fax"}),
    (f"/_admin/erp/stock/{SKU}", {"quantity": 3, "reason": "sales_order"}),  # only Bezel's orders are those
    (f"/_admin/price/{SKU}", {"price": "cheap"}),
    (f"/_admin/price/{SKU}", {"price": "-1"}),
])
async def test_a_malformed_change_is_refused(box: Any, path: str, body: dict[str, Any]) -> None:
    client, _ = box
    assert (await client.put(path, json=body)).status_code == 422


async def test_an_unknown_sku_or_product_is_a_404(box: Any) -> None:
    client, _ = box
    for path in ("/_admin/stock/NOPE", "/_admin/inventory/stock/NOPE", "/_admin/erp/stock/NOPE", "/_admin/price/NOPE"):
        assert (await client.put(path, json={"quantity": 1, "price": "1.00"})).status_code == 404, path
    assert (await client.delete("/_admin/products/nope")).status_code == 404
