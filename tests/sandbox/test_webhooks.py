"""The sandbox's systems send signed webhooks as the real ones do: Shopify's, commercetools' (as a CloudEvent)
and the ERP's, late, lost, twice or shuffled when told to; the ERP reaches the inventory only after its delay."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.handle import Sandbox, run_sandbox
from tests.sandbox.receiver import Received, Receiver, run_receiver

SECRETS = {"SHOPIFY_WEBHOOK_SECRET": "test-shopify-secret", "COMMERCETOOLS_WEBHOOK_TOKEN": "test-ct-token",
           "ERP_WEBHOOK_SECRET": "test-erp-secret"}
SYNC_DELAY_MS = 200
HOOPS = "HUG-Y14"  # gold huggie hoops, 14k yellow gold: plentiful stock
MICROS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
MILLIS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with run_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def box_process(receiver: Receiver) -> Iterator[Sandbox]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_WEBHOOK_SECRET", "_WEBHOOK_TOKEN",
                                                                  "_WEBHOOK_SECRET_PREVIOUS"))}
    with run_sandbox(latency_scale=0.05, seed=11, webhooks_to=receiver.url, erp_sync_delay_ms=SYNC_DELAY_MS,
                     env={**env, **SECRETS}) as box:
        yield box


@pytest.fixture
def box(box_process: Sandbox, receiver: Receiver) -> Sandbox:
    """The sandbox as started (webhooks to `receiver`, 50 +/- 50 ms late), nothing pending, nothing received."""
    box_process.reset()
    receiver.clear()
    return box_process


def uuid4(text: str) -> bool:
    return uuid.UUID(text).version == 4


def shopify_signed(request: Received, secret: str = SECRETS["SHOPIFY_WEBHOOK_SECRET"]) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), request.body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, request.headers["x-shopify-hmac-sha256"])


def erp_signed(request: Received) -> bool:
    parts = dict(item.split("=", 1) for item in request.headers["x-bezel-signature"].split(","))
    mac = hmac.new(SECRETS["ERP_WEBHOOK_SECRET"].encode(), f"{parts['t']}.".encode() + request.body,
                   hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"]) and abs(time.time() - int(parts["t"])) < 60


def catalog(box: Sandbox, path: str, **params: Any) -> Any:
    return httpx.get(f"{box.url}/catalog/admin/api/2024-10/{path}", params=params, timeout=5).json()


def inventory_entry(box: Sandbox, sku: str) -> dict[str, Any]:
    answer = httpx.get(f"{box.url}/inventory/bezel/inventory", params={"where": f'sku in ("{sku}")'}, timeout=5)
    return answer.json()["results"][0]


def atp(box: Sandbox, sku: str) -> int:
    return httpx.get(f"{box.url}/erp/api/v1/atp", params={"skus": sku}, timeout=5).json()["items"][0]["on_hand"]


def sales_order(box: Sandbox, *lines: tuple[str, int]) -> None:
    body = {"external_id": str(uuid.uuid4()),
            "lines": [{"sku": sku, "quantity": n, "unit_price": "385.00"} for sku, n in lines]}
    httpx.post(f"{box.url}/erp/api/v1/sales-orders", json=body, timeout=5).raise_for_status()


def test_a_price_change_is_served_by_the_catalog_and_sent_as_a_signed_products_update(
        box: Sandbox, receiver: Receiver) -> None:
    """Shopify's headers and HMAC, and the body is the product exactly as products.json now serves it."""
    product = catalog(box, "products.json", handle="gold-huggie-hoops")["products"][0]
    variant = next(v for v in product["variants"] if v["sku"] == HOOPS)
    answer = box.set_price(HOOPS, "1234.5")
    assert answer["price"] == "1234.50"
    served = catalog(box, "products.json", handle="gold-huggie-hoops")["products"][0]
    assert next(v for v in served["variants"] if v["sku"] == HOOPS)["price"] == "1234.50"
    assert catalog(box, f"variants/{variant['id']}.json")["variant"]["price"] == "1234.50"
    assert served["updated_at"] != product["updated_at"] == served["created_at"]
    [hook] = receiver.wait(1)
    assert hook.path == "/webhooks/shopify"
    assert shopify_signed(hook)
    assert hook.headers["content-type"] == "application/json"
    assert hook.headers["x-shopify-topic"] == "products/update"
    assert hook.headers["x-shopify-shop-domain"] == "bezel-sandbox.myshopify.com"
    assert hook.headers["x-shopify-api-version"] == "2025-10"
    assert uuid4(hook.headers["x-shopify-webhook-id"])
    assert uuid4(hook.headers["x-shopify-event-id"])
    assert MICROS_Z.match(hook.headers["x-shopify-triggered-at"])
    assert hook.json() == served
    assert all(v["inventory_item_id"] > 2**53 for v in hook.json()["variants"])


def test_a_product_deleted_leaves_the_catalog_with_a_products_delete(box: Sandbox, receiver: Receiver) -> None:
    """products/delete carries only the id; a reset brings the product back."""
    product = catalog(box, "products.json", handle="gold-huggie-hoops")["products"][0]
    with box.admin() as admin:
        admin.delete("/products/gold-huggie-hoops").raise_for_status()
    assert catalog(box, "products.json", handle="gold-huggie-hoops")["products"] == []
    [hook] = receiver.wait(1)
    assert (hook.headers["x-shopify-topic"], hook.json()) == ("products/delete", {"id": product["id"]})
    assert shopify_signed(hook)
    box.reset()
    assert catalog(box, "products.json", handle="gold-huggie-hoops")["products"] == [product]


def test_setting_stock_moves_both_systems_and_sends_one_inventory_cloudevent(box: Sandbox, receiver: Receiver) -> None:
    """The CloudEvent EventBridge would forward, bearing the token; its ids name the entry the API answers."""
    before = box.stock(HOOPS)
    box.set_stock(HOOPS, 7)
    assert box.stock(HOOPS) == {"sku": HOOPS, "quantity": 7, "inventory": 7, "erp": 7}
    [hook] = receiver.wait(1)
    entry = inventory_entry(box, HOOPS)
    assert hook.path == "/webhooks/commercetools"
    assert hook.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert hook.headers["authorization"] == f"Bearer {SECRETS['COMMERCETOOLS_WEBHOOK_TOKEN']}"
    event = hook.json()
    data = event.pop("data")
    assert uuid4(event.pop("id"))
    assert MILLIS_Z.match(event.pop("time"))
    assert event == {"specversion": "1.0", "source": "/bezel/inventory-entries", "subject": entry["id"],
                     "type": "com.commercetools.inventory-entry.message.InventoryEntryQuantitySet",
                     "sequence": str(data["sequenceNumber"]), "datacontenttype": "application/json"}
    assert uuid4(data.pop("id"))
    assert MILLIS_Z.match(data["createdAt"])
    assert data.pop("createdAt") == data.pop("lastModifiedAt")
    assert data == {"notificationType": "Message", "projectKey": "bezel", "version": 1,
                    "sequenceNumber": data["sequenceNumber"], "resource": {"typeId": "inventory-entry",
                                                                           "id": entry["id"]},
                    "resourceVersion": entry["version"], "type": "InventoryEntryQuantitySet",
                    "oldQuantityOnStock": before["inventory"], "newQuantityOnStock": 7,
                    "oldAvailableQuantity": before["inventory"], "newAvailableQuantity": 7, "sku": HOOPS}
    assert entry["quantityOnStock"] == 7


def test_sequence_numbers_rise_per_entry_and_arrive_in_order_without_a_reorder_window(
        box: Sandbox, receiver: Receiver) -> None:
    """Jitter delays each delivery, not its place: with no reorder window they come as they happened."""
    for quantity in range(1, 7):
        box.set_inventory_stock(HOOPS, quantity)
    box.set_inventory_stock("HUG-W14", 3)
    hooks = receiver.wait(7)
    mine = [h.json()["data"] for h in hooks if h.json()["data"]["sku"] == HOOPS]
    numbers = [d["sequenceNumber"] for d in mine]
    assert numbers == list(range(numbers[0], numbers[0] + 6))
    assert [d["resourceVersion"] for d in mine] == numbers  # message 1, version 1: the entry's creation
    assert [d["newQuantityOnStock"] for d in mine] == list(range(1, 7))
    other = next(h.json()["data"] for h in hooks if h.json()["data"]["sku"] == "HUG-W14")
    assert other["sequenceNumber"] == numbers[0]  # each entry counts its own


def test_a_sale_in_the_shop_can_come_from_shopify_as_an_inventory_level(box: Sandbox, receiver: Receiver) -> None:
    """inventory_levels/update names the variant's inventory item, an id past 2^53 (kept exact)."""
    box.set_inventory_stock(HOOPS, 2, via="shopify")
    assert box.stock(HOOPS)["inventory"] == 2
    [hook] = receiver.wait(1)
    product = catalog(box, "products.json", handle="gold-huggie-hoops")["products"][0]
    item = next(v for v in product["variants"] if v["sku"] == HOOPS)["inventory_item_id"]
    assert (hook.path, hook.headers["x-shopify-topic"]) == ("/webhooks/shopify", "inventory_levels/update")
    assert shopify_signed(hook)
    body = hook.json()
    assert item > 2**53
    assert f'"inventory_item_id":{item}'.encode() in hook.body
    assert body == {"inventory_item_id": item, "location_id": 65000000000000001, "available": 2,
                    "updated_at": body["updated_at"],
                    "admin_graphql_api_id": f"gid://shopify/InventoryLevel/65000000000000001?inventory_item_id={item}"}


def test_an_erp_sales_order_lowers_atp_at_once_and_the_inventory_only_after_the_sync_delay(
        box: Sandbox, receiver: Receiver) -> None:
    """Given both systems at 5, a sales order of 2 is the ERP's at once (its signed stock.changed), and the
    inventory's, with its own event, a sync delay later: the gap a page can show ghost stock in."""
    box.set_stock(HOOPS, 5)
    receiver.wait(1)
    receiver.clear()
    started = time.monotonic()
    sales_order(box, (HOOPS, 2))
    assert box.stock(HOOPS) == {"sku": HOOPS, "quantity": 5, "inventory": 5, "erp": 3}
    assert atp(box, HOOPS) == 3
    assert inventory_entry(box, HOOPS)["quantityOnStock"] == 5
    erp, inventory = receiver.wait(2)
    assert erp.path == "/webhooks/erp"
    assert erp_signed(erp)
    assert erp.headers["content-type"] == "application/json"
    body = erp.json()
    assert uuid4(body.pop("id"))
    assert MICROS_Z.match(body.pop("occurred_at"))
    assert body == {"type": "stock.changed", "sequence": 1,
                    "data": {"sku": HOOPS, "on_hand": 3, "available": 3, "reason": "sales_order"}}
    assert inventory.path == "/webhooks/commercetools"
    assert inventory.at - started >= SYNC_DELAY_MS / 1000 * 0.9
    data = inventory.json()["data"]
    assert (data["oldQuantityOnStock"], data["newQuantityOnStock"]) == (5, 3)
    assert box.stock(HOOPS) == {"sku": HOOPS, "quantity": 3, "inventory": 3, "erp": 3}


def test_the_erp_passes_on_its_change_not_its_level(box: Sandbox, receiver: Receiver) -> None:
    """A restock of 3 in the ERP while the shop sold one: the inventory ends at 5 + 3 - 1, not at the ERP's 8."""
    box.webhooks(erp_sync_delay_ms=1000)  # the till's sale surely lands first, even on a busy machine
    box.set_stock(HOOPS, 5)
    box.set_erp_stock(HOOPS, 8, reason="restock")
    box.set_inventory_stock(HOOPS, 4)  # a sale at the till, before the ERP's restock reached the inventory
    hooks = receiver.wait(4)
    assert [h.path.rsplit("/", 1)[1] for h in hooks] == ["commercetools", "erp", "commercetools", "commercetools"]
    assert hooks[1].json()["data"] == {"sku": HOOPS, "on_hand": 8, "available": 8, "reason": "restock"}
    assert box.stock(HOOPS) == {"sku": HOOPS, "quantity": 7, "inventory": 7, "erp": 8}
    box.set_erp_stock(HOOPS, 6, reason="sale")
    assert receiver.wait(5)[4].json()["sequence"] == 2  # the ERP's own count, per SKU


def test_a_delivery_waits_its_delay(box: Sandbox, receiver: Receiver) -> None:
    """delay_ms (+/- jitter_ms) from the change to the delivery; generous bounds, a busy machine is slow."""
    box.webhooks(delay_ms=400, jitter_ms=0)
    started = time.monotonic()
    box.set_stock(HOOPS, 4)
    [hook] = receiver.wait(1)
    assert 0.35 <= hook.at - started < 4


def test_a_lost_event_is_counted_and_never_delivered(box: Sandbox, receiver: Receiver) -> None:
    """loss_rate=1: the backstop's case; the counts and the deliveries log say what the gateway never heard."""
    box.webhooks(loss_rate=1)
    for quantity in (1, 2, 3):
        box.set_stock(HOOPS, quantity)
    time.sleep(0.4)
    assert receiver.received == []
    counts = box.webhooks()["counts"]
    assert counts == {"emitted": 3, "delivered": 0, "lost": 3, "duplicated": 0, "failed": 0, "pending": 0}
    assert [d["status"] for d in box.deliveries()] == ["lost"] * 3


def test_a_duplicate_repeats_the_same_delivery(box: Sandbox, receiver: Receiver) -> None:
    """duplicate_rate=1: the same body, the same webhook id, twice."""
    box.webhooks(duplicate_rate=1)
    box.set_price(HOOPS, "400.00")
    first, second = receiver.wait(2)
    assert first.body == second.body
    assert first.headers["x-shopify-webhook-id"] == second.headers["x-shopify-webhook-id"]
    assert shopify_signed(first)
    assert shopify_signed(second)
    time.sleep(0.2)
    assert len(receiver.received) == 2
    assert box.webhooks()["counts"] == {"emitted": 1, "delivered": 2, "lost": 0, "duplicated": 1,
                                        "failed": 0, "pending": 0}


def test_events_within_the_reorder_window_arrive_shuffled(box: Sandbox, receiver: Receiver) -> None:
    """reorder_window_ms: every event arrives, not in the order of its sequence numbers."""
    box.webhooks(reorder_window_ms=600, delay_ms=0, jitter_ms=0)
    for quantity in range(1, 9):
        box.set_inventory_stock(HOOPS, quantity)
    numbers = [h.json()["data"]["sequenceNumber"] for h in receiver.wait(8)]
    assert numbers != sorted(numbers)
    assert sorted(numbers) == list(range(min(numbers), min(numbers) + 8))


def test_a_failed_delivery_is_retried_with_the_same_id(box: Sandbox, receiver: Receiver) -> None:
    """Two 500s then a 200: three attempts of one delivery, its id unchanged, each signed."""
    box.webhooks(retry_backoff_ms=50, erp_sync_delay_ms=60_000)  # the inventory's own event would come meanwhile
    receiver.fail_with[:] = [500, 500]
    box.set_erp_stock(HOOPS, 9)
    attempts = receiver.wait(3)
    assert {a.json()["id"] for a in attempts} == {attempts[0].json()["id"]}
    assert all(erp_signed(a) for a in attempts)
    rows = [d for d in box.deliveries() if d["source"] == "erp"]
    assert [(d["status"], d["attempts"]) for d in rows] == [(200, 3)]
    assert rows[0]["delivered_at"] >= rows[0]["emitted_at"]


def test_a_delivery_that_keeps_failing_is_given_up_after_its_retries(box: Sandbox, receiver: Receiver) -> None:
    box.webhooks(retries=1, retry_backoff_ms=20)
    receiver.fail_with[:] = [503, 503]
    box.set_stock(HOOPS, 2)
    receiver.wait(2)
    deadline = time.monotonic() + 5
    while box.webhooks()["counts"]["failed"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(d["status"], d["attempts"], d["delivered_at"]) for d in box.deliveries()] == [(503, 2, None)]
    assert box.webhooks()["counts"]["pending"] == 0


def test_a_rotated_secret_signs_what_follows_and_is_never_shown(box: Sandbox, receiver: Receiver) -> None:
    """PUT /_admin/webhooks sets a secret; GET says which are set, never their values."""
    settings = box.webhooks(secrets={"shopify": "rotated-secret"})
    assert settings["secrets"] == {"shopify": True, "shopify_previous": False, "commercetools": True, "erp": True}
    assert "rotated-secret" not in str(settings)
    assert "test-erp-secret" not in str(box.webhooks())
    box.set_price(HOOPS, "401.00")
    [hook] = receiver.wait(1)
    assert shopify_signed(hook, "rotated-secret")
    assert not shopify_signed(hook)
    box.reset()  # the secrets the sandbox started with
    receiver.clear()
    box.set_price(HOOPS, "402.00")
    assert shopify_signed(receiver.wait(1)[0])


def test_nowhere_to_deliver_counts_events_and_sends_none(box: Sandbox, receiver: Receiver) -> None:
    assert box.webhooks()["to"] == receiver.url
    box.webhooks(to=None)
    box.set_stock(HOOPS, 3)
    sales_order(box, (HOOPS, 1))
    time.sleep(SYNC_DELAY_MS / 1000 + 0.3)
    assert receiver.received == []
    assert box.webhooks()["counts"]["emitted"] == 3  # set, the ERP's sale, the inventory catching up
    assert box.stock(HOOPS)["inventory"] == 2


def test_a_reset_drops_pending_syncs_and_deliveries(box: Sandbox, receiver: Receiver) -> None:
    """A reset is a fresh start: no ERP change still on its way to the inventory, no webhook on its way out."""
    seeded = box.stock(HOOPS)
    box.webhooks(delay_ms=300, jitter_ms=0)
    box.set_price(HOOPS, "999.00")
    box.set_erp_stock(HOOPS, seeded["erp"] + 10)
    assert box.webhooks()["counts"]["pending"] == 2
    box.reset()
    time.sleep(SYNC_DELAY_MS / 1000 + 0.4)
    assert receiver.received == []
    assert box.stock(HOOPS) == seeded
    assert box.webhooks()["counts"] == {"emitted": 0, "delivered": 0, "lost": 0, "duplicated": 0, "failed": 0,
                                        "pending": 0}
    assert box.webhooks()["delay_ms"] == 50
    variant = next(v for v in catalog(box, "products.json", handle="gold-huggie-hoops")["products"][0]["variants"]
                   if v["sku"] == HOOPS)
    assert variant["price"] != "999.00"
