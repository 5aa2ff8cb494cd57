"""Wiring: one pooled client and one call policy per vendor, built from config, closed together."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import stamina

from connectors import backoffice, bnpl, catalog, engraving, insurance, inventory, payments, tax
from connectors.backoffice import CrmAPI, ErpAPI, WmsAPI
from connectors.bnpl import BnplAPI
from connectors.catalog import CatalogAPI
from connectors.config import DEFAULT_VENDORS, CacheConfig, RedisConfig, StoreConfig, VendorConfig
from connectors.engraving import EngravingAPI
from connectors.http import VendorClient, api_key
from connectors.insurance import InsuranceAPI
from connectors.inventory import InventoryAPI
from connectors.models import Address
from connectors.payments import PaymentsAPI
from connectors.policy import CallPolicy
from connectors.policy.cache import RedisTier, TieredCache
from connectors.tax import TaxAPI
from connectors.telemetry import watch_breakers

# Each vendor module's provider conventions: how it authenticates and how its error bodies read.
_PROVIDER_MODULES = {
    "catalog": catalog,
    "inventory": inventory,
    "tax": tax,
    "insurance": insurance,
    "bnpl": bnpl,
    "engraving": engraving,
    "payments": payments,
    "erp": backoffice,
    "wms": backoffice,
    "crm": backoffice,
}


@dataclass
class Vendors:
    """Request builders for each vendor and the policy that runs their calls."""

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
    policies: dict[str, CallPolicy]
    bnpl_providers: tuple[str, ...]
    cache: TieredCache

    async def aclose(self) -> None:
        for policy in self.policies.values():
            await policy.aclose()
        await self.cache.aclose()


def build_vendors(
    configs: Mapping[str, VendorConfig],
    *,
    store: StoreConfig,
    sandbox_url: str,
    cache: CacheConfig | None = None,
    redis: RedisConfig | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Vendors:
    """Clients, caches and policies for every vendor. Call inside the running event loop."""
    # Retries are recorded in each request's call log (and traces); stamina's own log would repeat them.
    stamina.instrumentation.set_on_retry_hooks([])
    cache = cache or CacheConfig()
    shared = None
    if redis is not None and redis.url:
        shared = RedisTier(redis.url, timeout_ms=redis.timeout_ms, retry_after_ms=redis.retry_after_ms,
                           max_connections=redis.max_connections, key_prefix=redis.key_prefix)
    tiers = TieredCache(local_max_entries=cache.local_max_entries, redis=shared)
    policies = {}
    for name, module in _PROVIDER_MODULES.items():
        config = configs.get(name) or DEFAULT_VENDORS[name]
        client = VendorClient(
            name,
            config.base_url(name, sandbox_url),
            read_error=module.read_error,
            auth_headers=module.auth_headers(api_key(config.api_key_env)),
            transport=transport,
        )
        policies[name] = CallPolicy(name, config, client, cache=tiers)
    watch_breakers({name: (lambda p=policy: p.breaker.state.value) for name, policy in policies.items()})
    origin = Address(
        country_code=store.origin_country,
        zip=store.origin_zip,
        province_code=store.origin_state,
        city=store.origin_city,
        line1=store.origin_street,
    )
    bnpl_options = (configs.get("bnpl") or DEFAULT_VENDORS["bnpl"]).options
    providers = tuple(bnpl_options.get("providers", bnpl.PROVIDERS))
    if unknown := set(providers) - set(bnpl.PROVIDERS):
        raise ValueError(f"vendors.bnpl.options.providers: {sorted(unknown)} not supported; use {bnpl.PROVIDERS}")
    inventory_options = (configs.get("inventory") or DEFAULT_VENDORS["inventory"]).options
    return Vendors(
        catalog=CatalogAPI(currency=store.currency),
        inventory=InventoryAPI(project_key=str(inventory_options.get("project_key", "bezel"))),
        tax=TaxAPI(origin=origin),
        insurance=InsuranceAPI(),
        bnpl=BnplAPI(affirm_public_key=str(bnpl_options.get("affirm_public_key", "sandbox_public"))),
        engraving=EngravingAPI(),
        payments=PaymentsAPI(),
        erp=ErpAPI(),
        wms=WmsAPI(),
        crm=CrmAPI(),
        policies=policies,
        bnpl_providers=providers,
        cache=tiers,
    )
