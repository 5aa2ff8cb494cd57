"""placeOrder's input as a client sends it (what `PlaceOrderRequest` reads), for the checkout tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Line:
    variant_id: str
    quantity: int = 1
    engraving_text: str | None = None


@dataclass
class Address:
    country_code: str = "US"
    zip: str = "10001"
    province_code: str | None = "NY"
    city: str | None = "New York"
    line1: str | None = "1 Main St"
    line2: str | None = None
