"""What the sandbox's vendors remember between calls: the catalog, stock and what was sent to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.seed import SeedProduct, SeedVariant, build_catalog, initial_stock


@dataclass
class SandboxState:
    products: list[SeedProduct] = field(default_factory=build_catalog)
    stock: dict[str, int] = field(default_factory=dict)  # units on hand per SKU (the ERP's truth)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, Any]] = field(default_factory=dict)  # key -> (fingerprint, status, body)
    in_flight: set[str] = field(default_factory=set)
    received: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # vendor -> external id -> doc
    insurance_policies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.stock:
            self.stock = initial_stock(self.products)
        self.by_handle = {p.handle: p for p in self.products}
        self.by_id = {p.id: p for p in self.products}
        self.variants: dict[int, tuple[SeedProduct, SeedVariant]] = {
            v.id: (p, v) for p in self.products for v in p.variants
        }

    def reset_stock(self) -> None:
        self.stock = initial_stock(self.products)
