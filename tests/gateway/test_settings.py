"""Config: defaults, then bezel.toml, then BEZEL_* variables; typos stop the process with the key named."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import pytest

from connectors.config import DEFAULT_VENDORS, VendorConfig
from connectors.models import Vendor
from gateway.errors import ConfigError
from gateway.settings import Settings, load_settings
from tests.support import ROOT

# Production as it should be run: trusted documents only, no APQ, no demo storefront, every vendor a
# provider's HTTPS API. Each test below spoils one of these.
SAFE_PRODUCTION = {
    "BEZEL_ENV": "production",
    "BEZEL_DOCUMENTS__MANIFEST": str(ROOT / "storefront" / "persisted-query-manifest.json"),
    "BEZEL_DOCUMENTS__REQUIRE_TRUSTED": "true",
    "BEZEL_DOCUMENTS__APQ": "false",
    "BEZEL_STOREFRONT__ENABLED": "false",
    **{f"BEZEL_VENDORS__{v.upper()}__URL": f"https://{v}.example.com" for v in Vendor},
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("BEZEL_") or key == "REDIS_URL":  # the runner's Redis is not a setting under test
            monkeypatch.delenv(key)


def _set(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_the_shipped_bezel_toml_spells_out_exactly_the_built_in_defaults() -> None:
    """`make run` reads bezel.toml; running with no file must behave the same, so the two cannot drift."""
    assert load_settings(ROOT / "bezel.toml") == Settings()


def test_the_shipped_bezel_toml_shows_every_section_key_and_every_vendors_own_defaults() -> None:
    """The file is the documentation: every key of every section, and each vendor's non-shared values."""
    raw = tomllib.loads((ROOT / "bezel.toml").read_text())
    defaults = Settings()
    for section in ("gateway", "admin", "limits", "documents", "storefront", "sandbox", "store", "availability",
                    "events", "cache", "redis", "checkout", "worker", "edge", "insecure"):
        assert set(raw[section]) == set(getattr(defaults, section).model_dump()), section
    shared = VendorConfig().model_dump()
    for name, config in DEFAULT_VENDORS.items():
        own = {k for k, v in config.model_dump().items() if v != shared[k]}
        assert own | {"url", "timeout_ms", "cache_ttl_s", "stale_ttl_s"} <= set(raw["vendors"][name]), name


def test_a_file_sets_one_vendor_key_and_keeps_that_vendors_other_defaults(tmp_path: Path) -> None:
    config = tmp_path / "bezel.toml"
    config.write_text('[gateway]\nbudget_ms = 900\n\n[vendors.tax]\nurl = "https://api.taxjar.com"\ntimeout_ms = 250\n')
    settings = load_settings(config)
    assert settings.gateway.budget_ms == 900
    assert settings.vendors["tax"].timeout_ms == 250
    assert settings.vendors["tax"].url == "https://api.taxjar.com"
    assert settings.vendors["tax"].cache_ttl_s == DEFAULT_VENDORS["tax"].cache_ttl_s
    assert settings.vendors["insurance"] == DEFAULT_VENDORS["insurance"]


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "bezel.toml"
    config.write_text("[vendors.tax]\ntimeout_ms = 250\n")
    monkeypatch.setenv("BEZEL_CONFIG", str(config))
    monkeypatch.setenv("BEZEL_VENDORS__TAX__TIMEOUT_MS", "200")
    monkeypatch.setenv("BEZEL_VENDORS__TAX__CACHE_TTL_S", "1")
    monkeypatch.setenv("BEZEL_VENDORS__BNPL__OPTIONS__PROVIDERS", '["affirm"]')
    _set(monkeypatch, SAFE_PRODUCTION)
    settings = load_settings()
    assert settings.vendors["tax"].timeout_ms == 200
    assert settings.vendors["tax"].cache_ttl_s == 1
    assert settings.vendors["bnpl"].options["providers"] == ["affirm"]
    assert settings.production


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("[vendors.taxx]\ntimeout_ms = 1\n", {}, "unknown vendor(s) ['taxx']"),
        ("", {"BEZEL_VENDORS__TAX__TIMEOUT_MS": "soon"}, "vendors.tax.timeout_ms"),
        ("[vendors.tax]\ntimeout = 1\n", {}, "vendors.tax.timeout"),
        ("[gateway]\nbudget_ms = 10\n", {}, "gateway.budget_ms"),
        ("", {"BEZEL_GATEWAY__IPV6_CLIENT_PREFIX": "16"}, "gateway.ipv6_client_prefix"),
        ("[gateway\n", {}, "not valid TOML"),
    ],
)
def test_invalid_config_names_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, env: dict[str, str], message: str
) -> None:
    config = tmp_path / "bezel.toml"
    config.write_text(toml)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)")):
        load_settings(config)


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_production_with_the_development_defaults_is_refused_naming_every_unsafe_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue as reported: BEZEL_ENV=production alone used to start with texts, APQ, the demo storefront
    and every vendor at the plain-HTTP sandbox."""
    monkeypatch.setenv("BEZEL_ENV", "production")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    for key in ("documents.require_trusted", "documents.apq", "storefront.enabled", "vendors.payments.url",
                "insecure.allow_documents", "insecure.allow_storefront", "insecure.allow_vendors"):
        assert key in message, key


def test_production_starts_on_safe_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    _set(monkeypatch, SAFE_PRODUCTION)
    settings = load_settings()
    assert settings.production
    assert settings.insecure_overrides == ()


UNSAFE = [
    ({"BEZEL_DOCUMENTS__REQUIRE_TRUSTED": "false"}, "documents.require_trusted", "insecure.allow_documents"),
    ({"BEZEL_DOCUMENTS__APQ": "true"}, "documents.apq", "insecure.allow_documents"),
    ({"BEZEL_STOREFRONT__ENABLED": "true"}, "storefront.enabled", "insecure.allow_storefront"),
    ({"BEZEL_VENDORS__PAYMENTS__URL": ""}, "vendors.payments.url", "insecure.allow_vendors"),
    ({"BEZEL_VENDORS__TAX__URL": "http://tax.internal:8080"}, "vendors.tax.url", "insecure.allow_vendors"),
    ({"BEZEL_VENDORS__ERP__URL": "http://10.1.2.3/erp"}, "vendors.erp.url", "insecure.allow_vendors"),
    ({"BEZEL_VENDORS__CRM__URL": "http://[2001:db8::5]/crm"}, "vendors.crm.url", "insecure.allow_vendors"),
    ({"BEZEL_VENDORS__WMS__URL": "wms.example.com"}, "vendors.wms.url", "insecure.allow_vendors"),
    ({"BEZEL_VENDORS__WMS__URL": "http://localhost.example.com"}, "vendors.wms.url", "insecure.allow_vendors"),
]


@pytest.mark.parametrize(("unsafe", "key", "override"), UNSAFE, ids=lambda v: str(v))
def test_production_refuses_an_unsafe_setting_naming_the_key_and_its_override(
    monkeypatch: pytest.MonkeyPatch, unsafe: dict[str, str], key: str, override: str
) -> None:
    _set(monkeypatch, {**SAFE_PRODUCTION, **unsafe})
    with pytest.raises(ConfigError, match=re.escape(key)) as refused:
        load_settings()
    assert override in str(refused.value)


@pytest.mark.parametrize(("unsafe", "key", "override"), UNSAFE, ids=lambda v: str(v))
def test_the_override_lets_staging_start_and_is_reported(
    monkeypatch: pytest.MonkeyPatch, unsafe: dict[str, str], key: str, override: str
) -> None:
    variable = "BEZEL_" + override.upper().replace(".", "__")
    _set(monkeypatch, {**SAFE_PRODUCTION, **unsafe, variable: "true"})
    settings = load_settings()
    assert [name for name, _ in settings.insecure_overrides] == [override]


def test_one_override_does_not_let_another_class_of_problem_through(monkeypatch: pytest.MonkeyPatch) -> None:
    _set(monkeypatch, {**SAFE_PRODUCTION, "BEZEL_STOREFRONT__ENABLED": "true", "BEZEL_VENDORS__TAX__URL": "",
                       "BEZEL_INSECURE__ALLOW_VENDORS": "true"})
    with pytest.raises(ConfigError, match=r"storefront\.enabled") as refused:
        load_settings()
    assert "vendors.tax.url" not in str(refused.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/tax", "http://127.8.9.10", "http://localhost:9000",
                                 "http://LOCALHOST", "http://[::1]:9000/tax", "https://api.taxjar.com"])
def test_production_accepts_https_and_plain_http_to_loopback(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """A sidecar on the pod's loopback (an egress proxy that speaks TLS onwards) is not on the network."""
    _set(monkeypatch, {**SAFE_PRODUCTION, "BEZEL_VENDORS__TAX__URL": url})
    assert load_settings().vendors["tax"].url == url


def test_development_and_test_are_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for env in ("development", "test"):
        monkeypatch.setenv("BEZEL_ENV", env)
        settings = load_settings(ROOT / "bezel.toml")
        assert not settings.production
        assert settings.insecure_overrides == ()  # overrides mean nothing outside production


def test_every_start_in_production_logs_each_override_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The gateway's app (every `bezel serve` worker, `bezel dev`) warns at start; so does `bezel worker`
    (tests/gateway/test_cli.py)."""
    from gateway.app import create_app

    _set(monkeypatch, {**SAFE_PRODUCTION, "BEZEL_VENDORS__TAX__URL": "", "BEZEL_STOREFRONT__ENABLED": "true",
                       "BEZEL_INSECURE__ALLOW_VENDORS": "true", "BEZEL_INSECURE__ALLOW_STOREFRONT": "true"})
    settings = load_settings()
    caplog.set_level(logging.WARNING)
    create_app(settings)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [m for m in warned if "insecure.allow_vendors" in m]
    assert [m for m in warned if "insecure.allow_storefront" in m]
    assert not [m for m in warned if "insecure.allow_documents" in m]


# --- the OTEL_* variables (what each decides is tested against real receivers in tests/gateway/test_telemetry.py)


@pytest.mark.parametrize(("env", "traces", "metrics"), [
    ({}, (), ()),  # no endpoint: nothing pushed (metrics are on /metrics either way)
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, ("otlp", "http://c:4318/v1/traces"),
     ("otlp", "http://c:4318/v1/metrics")),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://jaeger:4318/v1/traces"}, ("otlp", "http://jaeger:4318/v1/traces"),
     ()),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m/x"},
     ("otlp", "http://c:4318/v1/traces"), ("otlp", "http://m/x")),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRICS_EXPORTER": " None"},
     ("otlp", "http://c:4318/v1/traces"), ()),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "console,otlp,console",
      "OTEL_METRICS_EXPORTER": ""}, ("console", "otlp", "http://c:4318/v1/traces"), ("otlp", "http://c:4318/v1/metrics")),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, (), ()),
])
def test_otel_environment_decides_each_signal_on_its_own(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], traces: tuple[str, ...], metrics: tuple[str, ...]
) -> None:
    import os

    from gateway.settings import OtelEnvironment

    for key in list(os.environ):
        if key.startswith("OTEL_"):
            monkeypatch.delenv(key)
    _set(monkeypatch, env)
    otel = OtelEnvironment.read()
    assert (*otel.traces_to, *([otel.traces_endpoint] if "otlp" in otel.traces_to else [])) == traces
    assert (*otel.metrics_to, *([otel.metrics_endpoint] if "otlp" in otel.metrics_to else [])) == metrics
