"""Config: defaults, then bezel.toml, then BEZEL_* variables; typos stop the process with the key named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from connectors.config import DEFAULT_VENDORS, VendorConfig
from gateway.errors import ConfigError
from gateway.settings import Settings, load_settings
from tests.support import ROOT


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("BEZEL_"):
            monkeypatch.delenv(key)


def test_the_shipped_bezel_toml_spells_out_exactly_the_built_in_defaults() -> None:
    """`make run` reads bezel.toml; running with no file must behave the same, so the two cannot drift."""
    assert load_settings(ROOT / "bezel.toml") == Settings()


def test_the_shipped_bezel_toml_shows_every_section_key_and_every_vendors_own_defaults() -> None:
    """The file is the documentation: every key of every section, and each vendor's non-shared values."""
    raw = tomllib.loads((ROOT / "bezel.toml").read_text())
    defaults = Settings()
    for section in ("gateway", "admin", "limits", "documents", "storefront", "sandbox", "store", "availability",
                    "cache", "redis", "checkout", "worker"):
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
    monkeypatch.setenv("BEZEL_ENV", "production")
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
