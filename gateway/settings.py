"""Settings: embedded defaults, then `bezel.toml` (from `--config` or `BEZEL_CONFIG`), then the environment.

Any key can be overridden from the environment as `BEZEL_<SECTION>__<KEY>` or, for vendors,
`BEZEL_VENDORS__<NAME>__<KEY>` (e.g. `BEZEL_VENDORS__TAX__TIMEOUT_MS=200`). `BEZEL_ENV=production`
turns introspection and GraphiQL off; `REDIS_URL` is honoured when `[redis] url` is empty.
A file or variable that does not validate stops the process with a message naming the key: a typo
never silently falls back to a default.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from limits import parse_many
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from connectors.config import (
    DEFAULT_VENDORS,
    SANDBOX_URL,
    CacheConfig,
    CheckoutConfig,
    RedisConfig,
    StoreConfig,
    VendorConfig,
    WorkerConfig,
)
from connectors.models import Vendor
from gateway.errors import ConfigError
from schema.limits import QueryLimits


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GatewaySettings(QueryLimits):
    """The HTTP process; its query limits (`max_depth`, `max_aliases`, ...) are `QueryLimits`'."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Gateway processes serving the port (`bezel serve` supervises them); 0: one per core.
    workers: int = Field(default=1, ge=0, le=256)
    # A page must be answered inside this. Clients may lower it per request (x-bezel-budget-ms).
    budget_ms: int = Field(default=1200, ge=50, le=30_000)
    # Far above any real query or cart (a 50-line cart is ~6 KiB); refuses abuse before parsing.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # GraphQL requests one process works on at once, counted once their body is read; beyond it,
    # 503 OVERLOADED at once (0: no limit). With adaptive_in_flight this is the ceiling and the limit
    # follows the event loop's lag (gateway.edge.overload): it shrinks while the loop runs later than
    # loop_lag_target_ms. The same lag stops hedged vendor calls.
    max_in_flight: int = Field(default=256, ge=0)
    adaptive_in_flight: bool = True
    loop_lag_target_ms: int = Field(default=30, ge=1, le=1000)
    # A request body must arrive within this (408 otherwise); headers within header_timeout_ms of the
    # connection (or of the previous answer), in at most max_header_bytes and max_headers (431).
    body_timeout_ms: int = Field(default=10_000, ge=100)
    header_timeout_ms: int = Field(default=10_000, ge=100)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    max_headers: int = Field(default=100, ge=10)
    # Your load balancers (CIDRs): behind them, the client is the right-most X-Forwarded-For address
    # that is not one of them. Anyone else's traceparent does not force sampling (follow_client_sampling).
    trusted_proxies: list[str] = Field(default_factory=list)
    follow_client_sampling: bool = False
    # Operation names that get their own metric label (the manifest's are added); others count as "other".
    operation_labels: list[str] = Field(default_factory=lambda: ["ProductPage", "CartQuote", "PlaceOrder",
                                                                 "OrderLookup"])
    # Browser origins allowed to call /graphql directly (CORS). "*" is refused: name the storefronts.
    cors_origins: list[str] = Field(default_factory=list)

    @field_validator("cors_origins")
    @classmethod
    def _named_origins(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError('"*" would let any site call the gateway from a shopper\'s browser; list the '
                             "storefront origins")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad one
        return value


class LoggingSettings(_Section):
    """Which GraphQL requests get their one log line (see bezel.toml)."""

    requests: Literal["all", "errors", "sampled"] = "all"
    sample_rate: float = Field(default=0.01, gt=0, le=1)  # with "sampled": this share of the clean ones


class AdminSettings(_Section):
    """Where /metrics and /readyz are served (in production, only there); /healthz is on both ports."""

    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)  # 0: no admin port


class LimitsSettings(_Section):
    """Per client, in the `limits` notation ("20/second;600/minute"); see README "Running on the internet"."""

    # Every GraphQL request. A product page is one; a browser session rarely needs more than a few a second.
    pages: str = "20/second;600/minute"
    # placeOrder: a shopper places one order; a card tester places hundreds.
    checkout: str = "5/minute;30/hour"
    # order(id, token): the order page polls while ERP, WMS and CRM catch up.
    order_lookups: str = "60/minute"
    # Declined payments per client, per email and per card before checkout answers RATE_LIMITED.
    declines: str = "3/10minutes"

    @field_validator("pages", "checkout", "order_lookups", "declines")
    @classmethod
    def _notation(cls, value: str) -> str:
        parse_many(value)  # ValueError names the problem
        return value


class DocumentsSettings(_Section):
    """Trusted documents and automatic persisted queries (see bezel.toml)."""

    manifest: str = ""
    require_trusted: bool = False
    apq: bool = True
    # Registered texts are kept this long in Redis (and up to apq_local_max_entries in each process).
    apq_ttl_s: int = Field(default=86_400, ge=60)
    apq_local_max_entries: int = Field(default=1_000, ge=10)


class StorefrontSettings(_Section):
    """The demo storefront (storefront/): its pages at /, its operations trusted like the manifest's."""

    enabled: bool = True
    root: str = "storefront"  # holds web/ (the pages) and persisted-query-manifest.json (their operations)


class SandboxSettings(_Section):
    url: str = SANDBOX_URL  # where vendors without their own `url` are reached


class AvailabilitySettings(_Section):
    # Below this many units, a SKU is LOW_STOCK and (see the call policy) checked live.
    safety_stock: int = Field(default=3, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BEZEL_", env_nested_delimiter="__", extra="forbid",
                                      frozen=True)

    env: Literal["development", "production", "test"] = "development"
    gateway: GatewaySettings = GatewaySettings()
    admin: AdminSettings = AdminSettings()
    logging: LoggingSettings = LoggingSettings()
    limits: LimitsSettings = LimitsSettings()
    documents: DocumentsSettings = DocumentsSettings()
    storefront: StorefrontSettings = StorefrontSettings()
    sandbox: SandboxSettings = SandboxSettings()
    store: StoreConfig = StoreConfig()
    availability: AvailabilitySettings = AvailabilitySettings()
    cache: CacheConfig = CacheConfig()
    redis: RedisConfig = RedisConfig()
    checkout: CheckoutConfig = CheckoutConfig()
    worker: WorkerConfig = WorkerConfig()
    vendors: dict[str, VendorConfig] = Field(default_factory=lambda: dict(DEFAULT_VENDORS))

    @field_validator("vendors")
    @classmethod
    def _known_vendors(cls, value: dict[str, VendorConfig]) -> dict[str, VendorConfig]:
        if unknown := set(value) - set(Vendor):
            raise ValueError(f"unknown vendor(s) {sorted(unknown)}; vendors are {', '.join(Vendor)}")
        return value

    @model_validator(mode="after")
    def _trusted_needs_a_manifest(self) -> Settings:
        if self.documents.require_trusted and not self.documents.manifest:
            raise ValueError("documents.require_trusted needs documents.manifest (the operations to trust)")
        return self

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def redis_url(self) -> str:
        """`[redis] url` (from the file, BEZEL_REDIS__URL, or REDIS_URL); empty: no Redis at all."""
        return self.redis.url

    @property
    def checkout_redis_url(self) -> str:
        """Checkout's own Redis if it has one (`[checkout] redis_url`), else the shared one."""
        return self.checkout.redis_url or self.redis.url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest first; pydantic-settings deep-merges them, so a file or variable that sets one
        # vendor key keeps that vendor's other defaults. The file is the one `model_config` names.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls), _Defaults(settings_cls))


class _Defaults(PydanticBaseSettingsSource):
    """The per-vendor defaults as the lowest source, so overrides merge into them key by key."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {"vendors": {name: cfg.model_dump() for name, cfg in DEFAULT_VENDORS.items()}}


def load_settings(config_path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then the TOML file (argument, else `BEZEL_CONFIG`), then `BEZEL_*` variables, then
    `overrides` (sections of keys, e.g. `sandbox={"url": ...}`, as the CLI's own flags give them)."""
    path = config_path or os.environ.get("BEZEL_CONFIG") or None
    try:
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"config file {path} does not exist")

        class FromFile(Settings):
            model_config = SettingsConfigDict(toml_file=Path(path) if path else None)

        loaded = FromFile(**overrides)
        if not loaded.redis.url and os.environ.get("REDIS_URL"):  # the conventional variable, as a fallback
            loaded = loaded.model_copy(update={"redis": loaded.redis.model_copy(
                update={"url": os.environ["REDIS_URL"]})})
        return Settings.model_validate(loaded.model_dump())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid configuration ({path or 'defaults + environment'}): {problems}") from exc
