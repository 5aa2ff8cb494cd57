"""Each sender's wire format, read into an `Event` (or None: a topic Bezel has no use for).

A body that is not what its sender documents raises `Malformed` (answered 400): never a traceback,
never half an event. Ids Shopify sends as integers above 2^53 are kept as strings, exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.models import Event, EventSource, InventoryItemChanged, ProductChanged, StockChanged

SHOPIFY_TOPICS = frozenset({"products/update", "products/delete", "inventory_levels/update"})
COMMERCETOOLS_STOCK = "InventoryEntryQuantitySet"
COMMERCETOOLS_PRODUCTS = frozenset({"ProductPublished", "ProductUnpublished", "ProductDeleted"})
ERP_TYPES = frozenset({"stock.changed"})


class Malformed(ValueError):
    """The body is not what its sender documents (the message is for logs and the 400's text)."""


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be an object")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{what} must be an integer")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255:
        raise Malformed(f"{what} must be a string")
    return value


def _time(value: Any, what: str) -> float:
    """An ISO 8601 / RFC 3339 instant as epoch seconds."""
    try:
        return datetime.fromisoformat(_text(value, what).replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise Malformed(f"{what} must be an ISO 8601 time") from exc


def shopify(headers: Mapping[str, str], body: Any) -> Event | None:
    """`products/update`, `products/delete` (a product's REST JSON, or its id), `inventory_levels/update`."""
    topic = headers.get("x-shopify-topic", "")
    if topic not in SHOPIFY_TOPICS:
        return None
    delivery = _text(headers.get("x-shopify-webhook-id"), "X-Shopify-Webhook-Id")
    data = _obj(body, "the body")
    triggered = headers.get("x-shopify-triggered-at")
    if topic == "inventory_levels/update":
        item = str(_int(data.get("inventory_item_id"), "inventory_item_id"))
        location = str(_int(data.get("location_id"), "location_id"))
        updated = _time(data.get("updated_at"), "updated_at")
        return Event(EventSource.SHOPIFY, topic, delivery, f"inventory_item:{item}:{location}", updated,
                     _time(triggered, "X-Shopify-Triggered-At") if triggered else updated,
                     (InventoryItemChanged(item, max(0, _int(data.get("available"), "available"))),))
    product = str(_int(data.get("id"), "id"))
    deleted = topic == "products/delete"
    at = _time(triggered, "X-Shopify-Triggered-At") if triggered else None
    version = at if deleted or "updated_at" not in data else _time(data["updated_at"], "updated_at")
    if version is None:
        raise Malformed("products/delete needs X-Shopify-Triggered-At")
    return Event(EventSource.SHOPIFY, topic, delivery, f"product:{product}", version, at or version,
                 (ProductChanged(product, deleted=deleted),))


def commercetools(body: Any) -> Event | None:
    """A CloudEvents 1.0 structured event (as an EventBridge or Event Grid HTTP destination posts it)
    carrying a commercetools message: stock (`InventoryEntryQuantitySet`) or a product's publication."""
    event = _obj(body, "the body")
    if event.get("specversion") != "1.0":
        raise Malformed("specversion must be 1.0")
    delivery = _text(event.get("id"), "id")
    message = _obj(event.get("data"), "data")
    kind = message.get("type")
    resource = _obj(message.get("resource"), "data.resource")
    resource_id = _text(resource.get("id"), "data.resource.id")
    sequence = _int(message.get("sequenceNumber"), "data.sequenceNumber")
    at = _time(message.get("createdAt") or event.get("time"), "data.createdAt")
    if kind == COMMERCETOOLS_STOCK:
        change = StockChanged(sku=_text(message.get("sku"), "data.sku"),
                              available=max(0, _int(message.get("newAvailableQuantity"), "newAvailableQuantity")),
                              on_hand=_int(message.get("newQuantityOnStock"), "newQuantityOnStock"),
                              system="inventory")
        return Event(EventSource.COMMERCETOOLS, kind, delivery, f"inventory-entry:{resource_id}", sequence, at,
                     (change,))
    if kind in COMMERCETOOLS_PRODUCTS:  # known here by the catalog's id, kept as the product's key
        key = message.get("productKey") or resource_id
        return Event(EventSource.COMMERCETOOLS, kind, delivery, f"product:{resource_id}", sequence, at,
                     (ProductChanged(_text(key, "data.productKey"), deleted=kind != "ProductPublished"),))
    return None


def erp(body: Any) -> Event | None:
    """Our own: {id, type: "stock.changed", occurred_at, sequence, data: {sku, available, on_hand, reason}}."""
    event = _obj(body, "the body")
    if event.get("type") not in ERP_TYPES:
        return None
    data = _obj(event.get("data"), "data")
    sku = _text(data.get("sku"), "data.sku")
    change = StockChanged(sku=sku, available=max(0, _int(data.get("available"), "data.available")),
                          on_hand=_int(data.get("on_hand"), "data.on_hand"), system="erp")
    return Event(EventSource.ERP, "stock.changed", _text(event.get("id"), "id"), f"sku:{sku}",
                 _int(event.get("sequence"), "sequence"), _time(event.get("occurred_at"), "occurred_at"), (change,))
