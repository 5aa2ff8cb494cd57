"""Each sender's wire format read into one Event; anything else is Malformed, never half an event."""

from __future__ import annotations

import orjson
import pytest

from connectors.models import EventSource, InventoryItemChanged, ProductChanged, StockChanged
from gateway.webhooks import readers

HEADERS = {"x-shopify-topic": "products/update", "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
           "x-shopify-triggered-at": "2026-12-06T10:00:01.123456Z"}


def test_a_shopify_product_update_is_the_product_ordered_by_its_updated_at() -> None:
    event = readers.shopify(HEADERS, {"id": 632910392, "handle": "ring", "updated_at": "2026-12-06T10:00:00Z"})
    assert event is not None
    assert event.source is EventSource.SHOPIFY
    assert event.delivery_id == HEADERS["x-shopify-webhook-id"]
    assert event.resource == "product:632910392"
    assert event.version == 1796551200.0
    assert event.origin_at == pytest.approx(1796551201.123456)
    assert event.changes == (ProductChanged("632910392"),)


def test_shopify_inventory_item_ids_above_2_to_the_53_stay_exact() -> None:
    body = orjson.loads(b'{"inventory_item_id": 45000000045210001, "location_id": 65000000000000001, '
                        b'"available": 0, "updated_at": "2026-12-06T10:00:00Z"}')
    event = readers.shopify({**HEADERS, "x-shopify-topic": "inventory_levels/update"}, body)
    assert event is not None
    assert event.changes == (InventoryItemChanged("45000000045210001", 0),)
    assert event.resource == "inventory_item:45000000045210001:65000000000000001"


def test_a_topic_bezel_has_no_use_for_is_none_and_a_bad_body_is_malformed() -> None:
    assert readers.shopify({**HEADERS, "x-shopify-topic": "orders/create"}, {"id": 1}) is None
    for body in ([], {"id": "632910392"}, {"id": True}, {"id": 1, "updated_at": "yesterday"}):
        with pytest.raises(readers.Malformed):
            readers.shopify(HEADERS, body)
    with pytest.raises(readers.Malformed):
        readers.shopify({k: v for k, v in HEADERS.items() if k != "x-shopify-webhook-id"}, {"id": 1})


def cloud_event(**data: object) -> dict[str, object]:
    message = {"type": "InventoryEntryQuantitySet", "sku": "AUR-1", "sequenceNumber": 7,
               "resource": {"typeId": "inventory-entry", "id": "e-1"}, "oldQuantityOnStock": 2,
               "newQuantityOnStock": 1, "oldAvailableQuantity": 2, "newAvailableQuantity": 1,
               "createdAt": "2026-12-06T10:00:00.000Z", **data}
    return {"specversion": "1.0", "id": "ce-1", "type": "com.commercetools.inventory-entry.message."
            "InventoryEntryQuantitySet", "source": "/bezel/inventory-entries", "time": "2026-12-06T10:00:00Z",
            "data": message}


def test_a_commercetools_quantity_set_is_the_sku_s_new_level_ordered_by_sequence_number() -> None:
    event = readers.commercetools(cloud_event())
    assert event is not None
    assert event.changes == (StockChanged("AUR-1", 1, 1, "inventory"),)
    assert (event.resource, event.version, event.delivery_id) == ("inventory-entry:e-1", 7, "ce-1")
    assert readers.commercetools(cloud_event(type="CustomerCreated")) is None
    with pytest.raises(readers.Malformed):
        readers.commercetools({**cloud_event(), "specversion": "0.3"})
    with pytest.raises(readers.Malformed):
        readers.commercetools(cloud_event(newAvailableQuantity="1"))


def test_an_erp_stock_change_is_ours_and_ordered_by_its_sequence() -> None:
    body = {"id": "erp-1", "type": "stock.changed", "occurred_at": "2026-12-06T10:00:00Z", "sequence": 3,
            "data": {"sku": "VIC-1", "on_hand": 0, "available": 0, "reason": "sale"}}
    event = readers.erp(body)
    assert event is not None
    assert event.changes == (StockChanged("VIC-1", 0, 0, "erp"),)
    assert event.resource == "sku:VIC-1"
    assert readers.erp({**body, "type": "order.shipped"}) is None
    with pytest.raises(readers.Malformed):
        readers.erp({**body, "data": {"sku": "VIC-1"}})
