"""The webhooks each of the sandbox's systems sends, in its real wire format (signing is `sandbox.webhooks`).

    Shopify        POST /webhooks/shopify        products/update (the REST product), products/delete,
                                                 inventory_levels/update; X-Shopify-* headers
    commercetools  POST /webhooks/commercetools  an InventoryEntryQuantitySet message wrapped in a
                                                 CloudEvent (structured mode), as an EventBridge API
                                                 destination forwards it
    ERP            POST /webhooks/erp            {"type": "stock.changed", ...}, our own format

Every event carries the moment of its change, in each sender's own notation: Shopify's REST times are
the shop's local time to the second (so `X-Shopify-Triggered-At` is what orders two quick edits),
commercetools' are UTC to the millisecond, the ERP's UTC to the microsecond.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from sandbox.state import ErpReason
from sandbox.vendors.catalog import inventory_item_id
from sandbox.vendors.inventory import PROJECT_KEY, entry_id
from sandbox.webhooks import Event, Source

SHOP_DOMAIN = "bezel-sandbox.myshopify.com"
SHOPIFY_API_VERSION = "2025-10"
SHOP_TIMEZONE = timezone(timedelta(hours=-5))  # the catalog's created_at is in this offset too
LOCATION_ID = 65_000_000_000_000_001  # the shop's one location; Shopify's ids are past 2^53 too
CLOUDEVENT_TYPE = "com.commercetools.inventory-entry.message.InventoryEntryQuantitySet"
CLOUDEVENT_SOURCE = "/bezel/inventory-entries"


def shop_time(at: datetime) -> str:
    """Shopify REST's notation: the shop's offset, to the second (`2026-03-02T10:15:00-05:00`)."""
    return at.astimezone(SHOP_TIMEZONE).isoformat(timespec="seconds")


def utc_millis(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_micros(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def shopify(topic: str, payload: dict[str, Any], at: datetime) -> Event:
    """A Shopify webhook: the payload as the body, the delivery and the event each with their own id."""
    webhook_id = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": SHOP_DOMAIN,
        "X-Shopify-API-Version": SHOPIFY_API_VERSION,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": utc_micros(at),
    }
    return Event(Source.SHOPIFY, topic, webhook_id, orjson.dumps(payload), headers, at.timestamp())


def shopify_product_update(product: dict[str, Any], at: datetime) -> Event:
    """`product` is the REST product JSON as the catalog serves it now."""
    return shopify("products/update", product, at)


def shopify_product_delete(product_id: int, at: datetime) -> Event:
    return shopify("products/delete", {"id": product_id}, at)


def shopify_inventory_level(variant_id: int, available: int, at: datetime) -> Event:
    item = inventory_item_id(variant_id)
    return shopify("inventory_levels/update", {
        "inventory_item_id": item,
        "location_id": LOCATION_ID,
        "available": available,
        "updated_at": shop_time(at),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{LOCATION_ID}?inventory_item_id={item}",
    }, at)


def commercetools_quantity_set(sku: str, old: int, new: int, *, version: int, sequence: int,
                               at: datetime) -> Event:
    """The inventory entry's new level as commercetools' message, in the CloudEvent EventBridge sends."""
    entry, when, event_id = entry_id(sku), utc_millis(at), str(uuid.uuid4())
    message = {
        "notificationType": "Message",
        "projectKey": PROJECT_KEY,
        "id": str(uuid.uuid4()),
        "version": 1,
        "sequenceNumber": sequence,
        "resource": {"typeId": "inventory-entry", "id": entry},
        "resourceVersion": version,
        "type": "InventoryEntryQuantitySet",
        "oldQuantityOnStock": old,
        "newQuantityOnStock": new,
        "oldAvailableQuantity": old,
        "newAvailableQuantity": new,
        "sku": sku,
        "createdAt": when,
        "lastModifiedAt": when,
    }
    cloud_event = {
        "specversion": "1.0",
        "id": event_id,
        "type": CLOUDEVENT_TYPE,
        "source": CLOUDEVENT_SOURCE,
        "subject": entry,
        "time": when,
        "sequence": str(sequence),
        "datacontenttype": "application/json",
        "data": message,
    }
    headers = {"Content-Type": "application/cloudevents+json; charset=utf-8"}
    return Event(Source.COMMERCETOOLS, "InventoryEntryQuantitySet", event_id, orjson.dumps(cloud_event), headers,
                 at.timestamp())


def erp_stock_changed(sku: str, on_hand: int, *, sequence: int, reason: ErpReason, at: datetime) -> Event:
    """The ERP's on-hand for one SKU; `available` is what its ATP answers (never below zero)."""
    event_id = str(uuid.uuid4())
    body = {
        "id": event_id,
        "type": "stock.changed",
        "occurred_at": utc_micros(at),
        "sequence": sequence,
        "data": {"sku": sku, "on_hand": on_hand, "available": max(0, on_hand), "reason": str(reason)},
    }
    return Event(Source.ERP, "stock.changed", event_id, orjson.dumps(body), {"Content-Type": "application/json"},
                 at.timestamp())
