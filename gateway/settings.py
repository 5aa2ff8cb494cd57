"""Settings: embedded defaults, then `bezel.toml` (from `--config` or `BEZEL_CONFIG`), then the environment.

Any key can be overridden from the environment as `BEZEL_<SECTION>__<KEY>` or, for vendors,
`BEZEL_VENDORS__<NAME>__<KEY>` (e.g. `BEZEL_VENDORS__TAX__TIMEOUT_MS=200`). `BEZEL_ENV=production`
turns introspection and GraphiQL off, and refuses settings only safe in development unless an `[insecure]`
override (staging) allows them; `REDIS_URL` is honoured when `[redis] url` is empty.
A file or variable that does not validate stops the process with a message naming the key: a typo
never silently falls back to a default.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

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
    EdgeConfig,
    LiveConfig,
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
    # A client's IPv6 addresses count as one client per network of this prefix (`gateway.edge.clients`):
    # one subscriber is routed a /64 or more. 128: per address (2^64 clients to one attacker's /64).
    ipv6_client_prefix: int = Field(default=64, ge=32, le=128)
    follow_client_sampling: bool = False
    # Operation names that get their own metric label (the manifest's are added); others count as "other".
    operation_labels: list[str] = Field(default_factory=lambda: ["ProductPage", "CartQuote", "PlaceOrder",
                                                                 "OrderLookup"])
    # Browser origins allowed to call /graphql directly (CORS). "*" is refused: name the storefronts.
    cors_origins: list[str] = Field(default_factory=list)
    # Plain fields read and flat selections built directly, resolvers called without strawberry's per-call
    # chain (schema/fastpath/; with a few smaller cuts, a warm page went from 1.82 to 1.31 ms of CPU). It
    # leans on strawberry and graphql-core internals (schema/internals.py) and must answer exactly as their
    # own path does (the suite runs both ways): turn it off to rule it out when an answer looks wrong, at
    # the price of that CPU. Same answers, errors and limits either way.
    fast_path: bool = True

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
    # Declined payments per client and per card before checkout answers RATE_LIMITED (not per email:
    # anyone can type a buyer's email, and declines on it would lock her out).
    declines: str = "3/10minutes"
    # New automatic persisted queries a client may register (a storefront registers each of its few
    # operations once); past it texts still run, they are just not remembered.
    apq_registrations: str = "30/hour"

    @field_validator("pages", "checkout", "order_lookups", "declines", "apq_registrations")
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
    # What anyone may have kept: a text of at most apq_max_bytes (bytes, comments included; the README's
    # page is ~1.5 KB), at most apq_max_entries texts in Redis (oldest dropped first), so at most ~16 MB.
    apq_max_bytes: int = Field(default=16_384, ge=1_024)
    apq_max_entries: int = Field(default=1_000, ge=10)


class StorefrontSettings(_Section):
    """The demo storefront (storefront/): its pages at /, its operations trusted like the manifest's."""

    enabled: bool = True
    root: str = "storefront"  # holds web/ (the pages) and persisted-query-manifest.json (their operations)


class AnswersSettings(_Section):
    """`[answers]`: whole answers kept in this process (`gateway.answers`), served again without executing
    while every part of them stays fresh (an event that changes a part drops them)."""

    enabled: bool = True
    max_entries: int = Field(default=2_000, ge=1)
    max_mb: float = Field(default=64, gt=0)  # and at most this many MB of answers (a 220-variant page is ~0.1)
    # The longest an answer is kept, whatever its parts allow (their least remaining freshness).
    max_age_s: int = Field(default=60, ge=0)


class SandboxSettings(_Section):
    url: str = SANDBOX_URL  # where vendors without their own `url` are reached


class AvailabilitySettings(_Section):
    # Below this many units, a SKU is LOW_STOCK and (see the call policy) checked live.
    safety_stock: int = Field(default=3, ge=1)
    # A page reads checkout's stock counters (what checkout would sell now) with the inventory vendor;
    # past this, it says its stock is unconfirmed rather than wait or trust the vendor alone.
    counter_timeout_ms: int = Field(default=50, ge=1, le=5_000)


class EventsSettings(_Section):
    """Webhooks from the systems that change things (`gateway.webhooks`), and the ghost-offer indicator.

    Secrets are read from the environment variables named here, never from this file; a source whose
    variable is unset has no endpoint (404)."""

    # Shopify signs with the app's client secret; during a rotation both are accepted (the new one can
    # take an hour to reach every delivery).
    shopify_secret_env: str = "SHOPIFY_WEBHOOK_SECRET"
    shopify_previous_secret_env: str = "SHOPIFY_WEBHOOK_SECRET_PREVIOUS"
    # `inventory_levels/update` names an inventory item; its SKU is asked of Shopify's Admin API (the
    # Storefront API has no inventory items) with an Admin API access token holding `read_inventory`.
    shopify_admin_token_env: str = "SHOPIFY_ADMIN_TOKEN"
    # commercetools delivers through an EventBridge (or Event Grid) HTTP destination, which sends this
    # token as `Authorization: Bearer <token>`.
    commercetools_token_env: str = "COMMERCETOOLS_WEBHOOK_TOKEN"
    commercetools_previous_token_env: str = "COMMERCETOOLS_WEBHOOK_TOKEN_PREVIOUS"
    # The ERP signs `<t>.<body>` with HMAC-SHA256 (`X-Bezel-Signature: t=...,v1=...`); older than
    # erp_tolerance_s is refused as a replay.
    erp_secret_env: str = "ERP_WEBHOOK_SECRET"
    erp_previous_secret_env: str = "ERP_WEBHOOK_SECRET_PREVIOUS"
    erp_tolerance_s: int = Field(default=300, ge=1)
    # Deliveries are remembered this long to apply each once: Shopify retries for 4 hours.
    dedupe_ttl_s: int = Field(default=18_000, ge=60)
    # A Shopify product with 2,048 variants is ~1.5 MB of JSON.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Per source, in the `limits` notation; over it 429 (the sender retries later).
    rate: str = "100/second;5000/minute"
    # Events taken but not yet applied, per process; beyond it 503 (the sender retries).
    queue: int = Field(default=1_000, ge=1)
    # A checkout refusing OUT_OF_STOCK a SKU a page offered within this long is a ghost offer.
    ghost_window_s: int = Field(default=600, ge=1)

    @field_validator("rate")
    @classmethod
    def _notation(cls, value: str) -> str:
        parse_many(value)
        return value


class InsecureSettings(_Section):
    """Overrides of what production refuses to start on (`Settings._safe_for_production`), one per class of
    problem: for a staging deployment running production's code against sandboxes, never for real traffic.
    Each one that is on is logged as a WARNING at every start (`log_insecure_overrides`)."""

    allow_documents: bool = False  # documents.require_trusted off, or documents.apq on
    allow_storefront: bool = False  # storefront.enabled on
    allow_vendors: bool = False  # a vendor url empty (the sandbox) or plain http:// to a non-loopback host


# What each override lets through, for the refusal that names it and the warning logged while it is on.
INSECURE_OVERRIDES = {
    "allow_documents": "clients may run or register query texts of their own (documents.require_trusted off, "
                       "or documents.apq on)",
    "allow_storefront": "the demo storefront is served and its operations are trusted (storefront.enabled)",
    "allow_vendors": "vendors may be the sandbox (an empty url) or plain HTTP to another host (vendors.*.url)",
}


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
    events: EventsSettings = EventsSettings()
    cache: CacheConfig = CacheConfig()
    redis: RedisConfig = RedisConfig()
    checkout: CheckoutConfig = CheckoutConfig()
    worker: WorkerConfig = WorkerConfig()
    live: LiveConfig = LiveConfig()
    edge: EdgeConfig = EdgeConfig()
    answers: AnswersSettings = AnswersSettings()
    insecure: InsecureSettings = InsecureSettings()
    vendors: dict[str, VendorConfig] = Field(default_factory=lambda: {str(v): c for v, c in DEFAULT_VENDORS.items()})

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

    @model_validator(mode="after")
    def _safe_for_production(self) -> Settings:
        """The defaults are development's, so `BEZEL_ENV=production` alone used to serve any query text, APQ,
        the demo storefront, and every vendor at the sandbox over plain HTTP. Production now refuses to start
        on each of these, naming every key at once and the `[insecure]` override that would allow it."""
        if self.production and (problems := _unsafe_for_production(self)):
            raise ValueError("unsafe in production: " + "; ".join(problems))
        return self

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def insecure_overrides(self) -> tuple[tuple[str, str], ...]:
        """The `[insecure]` overrides on, in production (elsewhere nothing is refused): each key, and what
        it lets through."""
        if not self.production:
            return ()
        return tuple((f"insecure.{name}", lets) for name, lets in INSECURE_OVERRIDES.items()
                     if getattr(self.insecure, name))

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


def _unsafe_for_production(settings: Settings) -> list[str]:
    """What production must not run on, unless its `[insecure]` override says so (staging)."""
    allow, docs = settings.insecure, settings.documents
    problems = []
    if not allow.allow_documents:
        if not docs.require_trusted:
            problems.append("documents.require_trusted is false: any client may run any query text; set it true "
                            "(with documents.manifest), or insecure.allow_documents = true for staging")
        if docs.apq:
            problems.append("documents.apq is true: clients register query texts of their own; set it false, "
                            "or insecure.allow_documents = true for staging")
    if settings.storefront.enabled and not allow.allow_storefront:
        problems.append("storefront.enabled is true: the demo storefront is a demo, and its operations would be "
                        "trusted; set it false, or insecure.allow_storefront = true for staging")
    if not allow.allow_vendors:
        for name, vendor in settings.vendors.items():
            if why := _unsafe_vendor_url(vendor.url):
                problems.append(f"vendors.{name}.url {why}; set the provider's https:// API base, or "
                                "insecure.allow_vendors = true for staging")
    return problems


def _unsafe_vendor_url(url: str) -> str | None:
    """Why production must not call `url`, or None: HTTPS, or plain HTTP that never leaves the host (a
    sidecar on loopback, e.g. an egress proxy that speaks TLS onwards)."""
    if not url:
        return "is empty, which means the sandbox (sandbox.url), not a provider"
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or ""
    except ValueError:  # e.g. an IPv6 host without its closing bracket
        scheme, host = "", ""
    if host and (scheme == "https" or (scheme == "http" and _loopback(host))):
        return None
    if scheme == "http":
        return f"= {url!r} is plain HTTP to another host: requests, API keys and card tokens cross in clear"
    return f"= {url!r} is not an https:// URL"


def _loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (also written ::ffff:127.x.y.z) and localhost: never on the network."""
    if host == "localhost":  # urlsplit lowercases hostnames
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def log_insecure_overrides(settings: Settings) -> None:
    """One WARNING per `[insecure]` override on, at every start of a production process (gateway and worker):
    a staging configuration copied to production says so in its first log lines."""
    for key, lets in settings.insecure_overrides:
        logging.getLogger("bezel.settings").warning(
            "production with %s = true: %s. For staging only, never for real traffic", key, lets)


def secret(env_name: str) -> str | None:
    """The secret the environment variable `env_name` holds (a vendor's API key, a webhook secret), or None
    when the name is empty or the variable unset: secrets never sit in bezel.toml, only their names."""
    return os.environ.get(env_name) or None if env_name else None


OTLP_PROTOCOL = "http/protobuf"  # the one OTLP exporter Bezel ships: OTLP/HTTP with protobuf bodies


@dataclass(frozen=True)
class OtelEnvironment:
    """The standard `OTEL_*` variables Bezel decides with, read here with every other variable. What
    they decide is here too (`traces_to`, `metrics_to`): each signal separately, so traces can go to a
    traces-only backend (Jaeger, Tempo) while metrics stay on /metrics or go to another endpoint.
    OpenTelemetry reads the rest of its variables itself: `OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT`,
    `_COMPRESSION`, `_CERTIFICATE` (and their per-signal forms) in the exporters, `OTEL_METRIC_EXPORT_INTERVAL`
    in the metric reader, `OTEL_BSP_*` in the span processor, `OTEL_SERVICE_NAME` and
    `OTEL_RESOURCE_ATTRIBUTES` in the resource."""

    sdk_disabled: bool
    traces_exporters: tuple[str, ...]  # OTEL_TRACES_EXPORTER, a comma-separated list: otlp (default), console, none
    metrics_exporters: tuple[str, ...]  # OTEL_METRICS_EXPORTER: otlp (default), console, prometheus, none
    traces_endpoint: str | None  # the full URL spans are posted to, None when no endpoint is set
    metrics_endpoint: str | None
    traces_protocol: str
    metrics_protocol: str
    sampler: str
    sampler_arg: float

    @classmethod
    def read(cls) -> OtelEnvironment:
        env = os.environ
        try:
            ratio = float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))
        except ValueError:
            ratio = 1.0
        protocol = env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip().lower() or OTLP_PROTOCOL
        return cls(sdk_disabled=env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true",
                   traces_exporters=_exporter_names(env.get("OTEL_TRACES_EXPORTER")),
                   metrics_exporters=_exporter_names(env.get("OTEL_METRICS_EXPORTER")),
                   traces_endpoint=_otlp_endpoint(env, "traces"),
                   metrics_endpoint=_otlp_endpoint(env, "metrics"),
                   traces_protocol=env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "").strip().lower() or protocol,
                   metrics_protocol=env.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "").strip().lower() or protocol,
                   sampler=env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower(),
                   sampler_arg=ratio)

    @property
    def traces_to(self) -> tuple[str, ...]:
        """Where spans go: "otlp" (only with an endpoint) and/or "console"; () is tracing off."""
        return self._chosen(self.traces_exporters, self.traces_endpoint)

    @property
    def metrics_to(self) -> tuple[str, ...]:
        """Where metrics are pushed besides /metrics (always served): "otlp" (only with an endpoint) and/or
        "console"; () is /metrics alone. An endpoint for traces alone never sends metrics anywhere."""
        return self._chosen(self.metrics_exporters, self.metrics_endpoint)

    def _chosen(self, names: tuple[str, ...], endpoint: str | None) -> tuple[str, ...]:
        if self.sdk_disabled or "none" in names:
            return ()
        return tuple(n for n in names if n == "console" or (n == "otlp" and endpoint is not None))


def _exporter_names(value: str | None) -> tuple[str, ...]:
    """`OTEL_*_EXPORTER`: a comma-separated list (`otlp,console`); unset or empty is `otlp`."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in (value or "").split(",") if n.strip()))
    return names or ("otlp",)


def _otlp_endpoint(env: Mapping[str, str], signal: str) -> str | None:
    """As OpenTelemetry resolves it: `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` as is, else
    `OTEL_EXPORTER_OTLP_ENDPOINT` (a base) with `/v1/<signal>` appended; None when neither is set."""
    own = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    if own:
        return own
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return f"{base.removesuffix('/')}/v1/{signal}" if base else None


def log_environment() -> tuple[str | None, str | None]:
    """`BEZEL_LOG_FORMAT` (json | text) and `BEZEL_LOG_LEVEL`, which override a command's own choice."""
    return os.environ.get("BEZEL_LOG_FORMAT") or None, os.environ.get("BEZEL_LOG_LEVEL") or None


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
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
                             for e in exc.errors())
        raise ConfigError(f"invalid configuration ({path or 'defaults + environment'}): {problems}") from exc
