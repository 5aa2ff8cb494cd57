"""Vendor and checkout configuration: defaults that protect a page and an order, floors, and env-string options."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from connectors.config import (
    DEFAULT_VENDORS,
    BreakerConfig,
    CheckoutConfig,
    RedisConfig,
    VendorConfig,
    WorkerConfig,
)
from connectors.models import DownstreamSystem, Vendor


def test_every_vendor_has_defaults_and_writes_are_never_cached_retried_or_hedged() -> None:
    assert set(DEFAULT_VENDORS) == set(Vendor)
    payments = DEFAULT_VENDORS[Vendor.PAYMENTS]
    assert (payments.retry_attempts, payments.hedge, payments.cache_ttl_s, payments.stale_ttl_s) == (1, False, 0, 0)
    for vendor in (Vendor.ERP, Vendor.WMS, Vendor.CRM):
        assert (DEFAULT_VENDORS[vendor].hedge, DEFAULT_VENDORS[vendor].cache_ttl_s) == (False, 0)
    assert all(c.timeout_ms <= 3_000 and c.api_key_env for c in DEFAULT_VENDORS.values())


def test_options_from_the_environment_are_decoded_from_json() -> None:
    config = VendorConfig(options={"providers": '["affirm"]', "limits": '{"a": 1}', "project_key": "bezel"})
    assert config.options == {"providers": ["affirm"], "limits": {"a": 1}, "project_key": "bezel"}


@pytest.mark.parametrize(("url", "expected"), [
    ("", "http://127.0.0.1:8900/tax"),
    ("https://api.taxjar.com/v2/", "https://api.taxjar.com/v2"),
])
def test_base_url_is_the_vendors_own_or_its_prefix_on_the_sandbox(url: str, expected: str) -> None:
    assert VendorConfig(url=url).base_url("tax", "http://127.0.0.1:8900/") == expected


@pytest.mark.parametrize("bad", [{"timeout_ms": 0}, {"timeout_ms": 60_001}, {"retry_attempts": 6},
                                 {"retry_attempts": 0}, {"retry_budget_ratio": 1.5}, {"max_concurrency": 0},
                                 {"timeout": 5}])
def test_vendor_config_refuses_values_out_of_range_and_unknown_keys(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        VendorConfig(**bad)  # type: ignore[arg-type]


def test_breaker_rates_are_percentages() -> None:
    assert BreakerConfig(failure_rate_threshold=100).failure_rate_threshold == 100
    for bad in ({"failure_rate_threshold": 0}, {"slow_call_rate_threshold": 101}, {"minimum_calls": 0}):
        with pytest.raises(ValidationError):
            BreakerConfig(**bad)  # type: ignore[arg-type]


def test_checkout_keeps_results_at_least_a_day_and_caps_online_orders() -> None:
    checkout = CheckoutConfig()
    assert checkout.max_order_total == Decimal("250000")
    assert checkout.idempotency_ttl_s >= 86_400
    assert CheckoutConfig(idempotency_ttl_s=86_400).idempotency_ttl_s == 86_400
    for bad in ({"idempotency_ttl_s": 86_399}, {"failure_result_ttl_s": 59}, {"max_order_total": 0},
                {"budget_ms": 99}, {"max_in_flight_per_client": 0}, {"stream_max_len": 999}):
        with pytest.raises(ValidationError):
            CheckoutConfig(**bad)  # type: ignore[arg-type]


def test_redis_and_worker_defaults() -> None:
    assert (RedisConfig().url, RedisConfig().timeout_ms, RedisConfig().key_prefix) == ("", 50, "bezel")
    assert WorkerConfig().consumers == list(DownstreamSystem)
    assert WorkerConfig(consumers=["erp"]).consumers == [DownstreamSystem.ERP]  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        WorkerConfig(consumers=["billing"])  # type: ignore[list-item]


def test_configs_are_frozen() -> None:
    with pytest.raises(ValidationError):
        CheckoutConfig().budget_ms = 1  # type: ignore[misc]
