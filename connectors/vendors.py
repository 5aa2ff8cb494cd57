"""Wiring: one pooled client and one call policy per vendor, built from config, closed together.

`Vendors.call` (and `call_batch`) is the one way a vendor is asked anything: every call goes to
its vendor's call policy with the caller's scope (deadline and call log).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TypeVar

import httpx

from connectors import backoffice, bnpl, catalog, engraving, insurance, inventory, payments, tax
from connectors.backoffice import CrmAPI, ErpAPI, WmsAPI
from connectors.bnpl import BnplAPI
from connectors.catalog import CatalogAPI
from connectors.config import DEFAULT_VENDORS, CacheConfig, RedisConfig, StoreConfig, VendorConfig
from connectors.engraving import EngravingAPI
from connectors.errors import VendorError
from connectors.http import BatchCall, VendorCall, VendorClient
from connectors.insurance import InsuranceAPI
from connectors.inventory import InventoryAPI
from connectors.loop import LoopLag
from connectors.models import Address, Sourced, Vendor
from connectors.payments import PaymentsAPI
from connectors.policy import CallPolicy, CallScope
from connectors.policy.breaker import BREAKER_STATE, observe
from connectors.policy.cache import TieredCache
from connectors.redisclient import SharedRedis
from connectors.tax import TaxAPI

T = TypeVar("T")

# Each vendor's module: its request builders, how it authenticates and how its error bodies read.
PROVIDER_MODULES: dict[Vendor, ModuleType] = {
    Vendor.CATALOG: catalog,
    Vendor.INVENTORY: inventory,
    Vendor.TAX: tax,
    Vendor.INSURANCE: insurance,
    Vendor.BNPL: bnpl,
    Vendor.ENGRAVING: engraving,
    Vendor.PAYMENTS: payments,
    Vendor.ERP: backoffice,
    Vendor.WMS: backoffice,
    Vendor.CRM: backoffice,
}


@dataclass
class Vendors:
    """Request builders for each vendor, and the policies that run their calls."""

    catalog: CatalogAPI
    inventory: InventoryAPI
    tax: TaxAPI
    insurance: InsuranceAPI
    bnpl: BnplAPI
    engraving: EngravingAPI
    payments: PaymentsAPI
    erp: ErpAPI
    wms: WmsAPI
    crm: CrmAPI
    policies: dict[Vendor, CallPolicy]
    bnpl_providers: tuple[str, ...]
    cache: TieredCache
    # Its breakers' states on `bezel_breaker_state` while these vendors are the process's (till `aclose`).
    detach_gauge: Callable[[], None] = lambda: None

    async def call(self, call: VendorCall[T], scope: CallScope) -> Sourced[T]:
        """One answer through the vendor's policy: cached, live or stale; else `VendorUnavailable`."""
        return await self.policies[call.vendor].run(call, scope)  # type: ignore[index]  # a Vendor is a str

    async def call_batch(self, batch: BatchCall[T], scope: CallScope) -> dict[str, Sourced[T] | VendorError]:
        """Answers per key through the vendor's policy; the keys not in cache are asked for in one call."""
        return await self.policies[batch.vendor].run_batch(batch, scope)  # type: ignore[index]

    def available(self, vendor: Vendor) -> bool:
        """Whether a call to `vendor` would be sent now (its circuit breaker lets calls through)."""
        return self.policies[vendor].breaker.allows_calls()

    async def aclose(self) -> None:
        self.detach_gauge()
        for policy in self.policies.values():
            await policy.aclose()
        await self.cache.aclose()


def build_vendors(
    configs: Mapping[str, VendorConfig],
    *,
    store: StoreConfig,
    sandbox_url: str,
    cache: CacheConfig,
    redis: RedisConfig,
    transport: httpx.AsyncBaseTransport | None = None,
    lag: LoopLag | None = None,
    api_keys: Mapping[str, str | None] | None = None,
    shopify_admin_token: str | None = None,
) -> Vendors:
    """Clients, caches and policies for every vendor. Call inside the running event loop.

    `api_keys`: each vendor's key by name (read from the environment by the caller's settings);
    `shopify_admin_token`: the catalog's Admin API token, for the one call the Storefront API cannot answer."""
    tiers = TieredCache(cache, redis=SharedRedis(redis) if redis.url else None)

    def config(vendor: Vendor) -> VendorConfig:
        return configs.get(vendor) or DEFAULT_VENDORS[vendor]

    policies = {}
    for vendor, module in PROVIDER_MODULES.items():
        name = vendor.value  # a plain str from here on: it keys logs, metrics and JSON
        client = VendorClient(name, config(vendor).base_url(name, sandbox_url), read_error=module.read_error,
                              auth_headers=module.auth_headers((api_keys or {}).get(name)),
                              transport=transport)
        policies[vendor] = CallPolicy(name, config(vendor), client, cache=tiers, lag=lag or LoopLag())
    bnpl_options = config(Vendor.BNPL).options
    catalog_options = config(Vendor.CATALOG).options
    if unknown := set(catalog_options) - set(catalog.OPTIONS):
        raise ValueError(f"vendors.catalog.options: {sorted(unknown)} unknown; the options are {catalog.OPTIONS}")
    providers = tuple(bnpl_options["providers"])
    if unknown := set(providers) - set(bnpl.PROVIDERS):
        raise ValueError(f"vendors.bnpl.options.providers: {sorted(unknown)} not supported; use {bnpl.PROVIDERS}")
    origin = Address(country_code=store.origin_country, zip=store.origin_zip, province_code=store.origin_state,
                     city=store.origin_city, line1=store.origin_street)
    return Vendors(
        catalog=CatalogAPI(
            api_version=str(catalog_options.get("api_version", catalog.DEFAULT_API_VERSION)),
            engravable_metafield=str(catalog_options.get("engravable_metafield",
                                                         catalog.DEFAULT_ENGRAVABLE_METAFIELD)),
            admin_token=shopify_admin_token),
        inventory=InventoryAPI(project_key=str(config(Vendor.INVENTORY).options["project_key"])),
        tax=TaxAPI(origin=origin),
        insurance=InsuranceAPI(),
        bnpl=BnplAPI(affirm_public_key=str(bnpl_options["affirm_public_key"])),
        engraving=EngravingAPI(),
        payments=PaymentsAPI(),
        erp=ErpAPI(),
        wms=WmsAPI(),
        crm=CrmAPI(),
        policies=policies,
        bnpl_providers=providers,
        cache=tiers,
        detach_gauge=BREAKER_STATE.attach(observe({v.value: p.breaker for v, p in policies.items()})),
    )
