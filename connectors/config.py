"""Configuration types for vendors and the call policy, with the defaults `make run` uses.

The values live in `bezel.toml` (see `gateway.settings` for loading and environment overrides);
these are their types and their named defaults. Every default says why it is what it is.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

SANDBOX_URL = "http://127.0.0.1:8900"

VENDOR_NAMES = (
    "catalog",
    "inventory",
    "tax",
    "insurance",
    "bnpl",
    "engraving",
    "payments",
    "erp",
    "wms",
    "crm",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VendorConfig(_Strict):
    """How to reach one vendor and how long to wait for it."""

    # Base URL of the vendor's API. Empty means "this vendor's prefix on the sandbox".
    url: str = ""
    # Per-call timeout. A call also never outlives the request's remaining budget.
    timeout_ms: int = Field(default=500, gt=0, le=60_000)
    # How long an answer is served from cache as fresh (0: never cached as fresh).
    cache_ttl_s: float = Field(default=0, ge=0)
    # How long a last good answer may stand in, marked STALE, when the vendor fails (0: never).
    stale_ttl_s: float = Field(default=0, ge=0)
    # Name of the environment variable holding the API key; the key itself never sits in a file.
    api_key_env: str = ""
    # Vendor-specific settings, validated by the vendor's own connector (e.g. bnpl providers).
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options", mode="before")
    @classmethod
    def _decode_json_values(cls, value: Any) -> Any:
        """Environment overrides arrive as strings: `BEZEL_VENDORS__BNPL__OPTIONS__PROVIDERS='["affirm"]'`."""
        if isinstance(value, dict):
            return {
                k: json.loads(v) if isinstance(v, str) and v[:1] in ("[", "{") else v for k, v in value.items()
            }
        return value

    def base_url(self, name: str, sandbox_url: str) -> str:
        return (self.url or f"{sandbox_url.rstrip('/')}/{name}").rstrip("/")


# Defaults per vendor. Timeouts sit at roughly 3x the vendor's usual p99 so a healthy vendor is
# never cut off, while a sick one cannot hold a page: the request budget (1200 ms) caps them all.
DEFAULT_VENDORS: dict[str, VendorConfig] = {
    # The product itself: nothing renders without it, so allow it the most of the budget it needs
    # up front; products change rarely, so a day-old product beats no product page.
    "catalog": VendorConfig(timeout_ms=400, api_key_env="SHOPIFY_ACCESS_TOKEN", cache_ttl_s=60, stale_ttl_s=86_400),
    # Stock moves: short fresh TTL; stale stock is only ever shown as unconfirmed.
    "inventory": VendorConfig(timeout_ms=300, api_key_env="COMMERCETOOLS_TOKEN", cache_ttl_s=5, stale_ttl_s=600),
    # Rates change at most daily; keyed by the exact request, so addresses never share an answer.
    "tax": VendorConfig(timeout_ms=500, api_key_env="TAXJAR_API_KEY", cache_ttl_s=3_600, stale_ttl_s=86_400),
    # Quotes expire at the insurer after ~30 minutes.
    "insurance": VendorConfig(timeout_ms=700, api_key_env="ONWARD_API_KEY", cache_ttl_s=600, stale_ttl_s=1_800),
    "bnpl": VendorConfig(
        timeout_ms=400,
        api_key_env="AFTERPAY_CREDENTIALS",
        cache_ttl_s=600,
        stale_ttl_s=86_400,
        options={"providers": ["affirm", "afterpay"], "affirm_public_key": "sandbox_public"},
    ),
    # Rendering is the slowest call; previews of the same text never change.
    "engraving": VendorConfig(timeout_ms=900, api_key_env="ENGRAVING_API_KEY", cache_ttl_s=86_400, stale_ttl_s=604_800),
    # Writes: never cached, never stale. Payment gets the longest wait: a lost authorization costs most.
    "payments": VendorConfig(timeout_ms=3_000, api_key_env="STRIPE_SECRET_KEY"),
    "erp": VendorConfig(timeout_ms=2_000, api_key_env="ERP_API_KEY"),
    "wms": VendorConfig(timeout_ms=2_000, api_key_env="WMS_API_KEY"),
    "crm": VendorConfig(timeout_ms=2_000, api_key_env="CRM_API_KEY"),
}


class StoreConfig(_Strict):
    """The merchant: its currency and the address orders ship from (tax nexus starts here)."""

    currency: str = "USD"
    origin_country: str = "US"
    origin_state: str = "NY"
    origin_zip: str = "10001"
    origin_city: str = "New York"
    origin_street: str = "580 Fifth Avenue"
