"""One vendor fails; the page still answers, with that vendor's part null and typed, inside its timeout."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sandbox.handle import Sandbox
from tests.support import PRODUCT_PAGE_QUERY, Gateway, run_gateway, settings_for

# The product-page field each vendor backs.
FIELD_OF = {"tax": "taxEstimate", "insurance": "shippingInsurance", "bnpl": "financing",
            "engraving": "engravingPreview"}
FAULTS: dict[str, dict[str, Any]] = {
    "500": {"status": 500},
    "503": {"status": 503},
    "reset": {"reset": True},
    "truncated-json": {"malformed": "json"},
    "wrong-shape": {"malformed": "schema"},
    "html": {"malformed": "html"},
}


def assert_only_vendor_failed(result: dict[str, Any], vendor: str) -> None:
    product = result["data"]["product"]
    assert product["title"] == "Aurelia Solitaire Engagement Ring"
    for other, field in FIELD_OF.items():
        if other == vendor:
            assert product[field] is None, field
        else:
            assert product[field] is not None, field
    errors = result["errors"]
    assert [(e["extensions"]["code"], e["extensions"]["vendor"]) for e in errors] == [("VENDOR_UNAVAILABLE", vendor)]
    assert errors[0]["path"] == ["product", FIELD_OF[vendor]]
    assert result["extensions"]["vendors"][vendor]["outcome"] in {"error", "timeout"}
    assert result["extensions"]["vendors"][vendor]["source"] is None
    for other in set(FIELD_OF) - {vendor}:
        assert result["extensions"]["vendors"][other]["outcome"] == "live"


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("vendor", FIELD_OF)
async def test_each_vendor_failing_in_turn_leaves_the_rest_of_the_page(
    gateway: Gateway, sandbox: Sandbox, vendor: str, fault: dict[str, Any]
) -> None:
    sandbox.fault(vendor, **fault)
    result = await gateway.gql(PRODUCT_PAGE_QUERY)
    assert_only_vendor_failed(result, vendor)
    assert "Traceback" not in str(result)


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_inventory_failing_shows_unknown_stock_with_one_error(
    gateway: Gateway, sandbox: Sandbox, fault: dict[str, Any]
) -> None:
    """Availability is non-null: the variants stay, marked UNKNOWN and unconfirmed, with one error in total."""
    sandbox.fault("inventory", **fault)
    result = await gateway.gql(PRODUCT_PAGE_QUERY)
    product = result["data"]["product"]
    assert all(field and product[field] for field in FIELD_OF.values())
    availability = [v["availability"] for v in product["variants"]]
    assert len(availability) == 176
    assert {a["status"] for a in availability} == {"UNKNOWN"}
    assert {a["quantityAvailable"] for a in availability} == {None}
    assert {a["confirmed"] for a in availability} == {False}
    assert {a["freshness"]["source"] for a in availability} == {"NONE"}
    assert [(e["extensions"]["code"], e["extensions"]["vendor"]) for e in result["errors"]] == [
        ("VENDOR_UNAVAILABLE", "inventory")]


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_catalog_failing_is_a_null_product_with_a_typed_error(
    gateway: Gateway, sandbox: Sandbox, fault: dict[str, Any]
) -> None:
    sandbox.fault("catalog", **fault)
    result = await gateway.gql(PRODUCT_PAGE_QUERY)
    assert result["data"] == {"product": None}
    [error] = result["errors"]
    assert error["extensions"] == {"code": "VENDOR_UNAVAILABLE", "vendor": "catalog", "outcome": "error"}
    assert error["path"] == ["product"]


@pytest.mark.parametrize("vendor", [*FIELD_OF, "inventory"])
async def test_a_hung_vendor_does_not_hold_the_page_past_its_timeout(sandbox: Sandbox, vendor: str) -> None:
    """Vendor timeouts cut to 300 ms: a vendor that never answers costs the page about that, not more."""
    env = {f"BEZEL_VENDORS__{v.upper()}__TIMEOUT_MS": "300" for v in [*FIELD_OF, "inventory"]}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        sandbox.fault(vendor, hang=True)
        started = time.monotonic()
        result = await gateway.gql(PRODUCT_PAGE_QUERY)
        elapsed = time.monotonic() - started
    assert elapsed < 0.3 + 1.0, elapsed  # a generous margin: the point is "not the hang"
    assert result["extensions"]["vendors"][vendor]["outcome"] == "timeout"
    assert ("VENDOR_UNAVAILABLE", vendor) in [(e["extensions"]["code"], e["extensions"]["vendor"])
                                              for e in result["errors"]]


async def test_the_request_budget_caps_every_vendor(sandbox: Sandbox) -> None:
    """Vendors allowed 5 s each, a 400 ms page budget: two hung vendors still cost the page ~400 ms."""
    env = {"BEZEL_GATEWAY__BUDGET_MS": "400", "BEZEL_VENDORS__TAX__TIMEOUT_MS": "5000",
           "BEZEL_VENDORS__ENGRAVING__TIMEOUT_MS": "5000"}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        sandbox.fault("tax", hang=True)
        sandbox.fault("engraving", delay_ms=3000)
        started = time.monotonic()
        result = await gateway.gql(PRODUCT_PAGE_QUERY)
        elapsed = time.monotonic() - started
    assert elapsed < 0.4 + 1.0, elapsed
    product = result["data"]["product"]
    assert product["taxEstimate"] is None
    assert product["engravingPreview"] is None
    assert product["shippingInsurance"] is not None


async def test_a_client_may_lower_the_budget_but_never_raise_it(sandbox: Sandbox) -> None:
    async with run_gateway(settings_for(sandbox, BEZEL_GATEWAY__BUDGET_MS="2000")) as gateway:
        sandbox.fault("tax", hang=True)
        started = time.monotonic()
        result = await gateway.gql(PRODUCT_PAGE_QUERY, headers={"x-bezel-budget-ms": "250"})
        lowered = time.monotonic() - started
        assert result["data"]["product"]["taxEstimate"] is None
        assert lowered < 0.25 + 1.0, lowered
        response = await gateway.post("{ products { nodes { handle } } }", headers={"x-bezel-budget-ms": "soon"})
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    async with run_gateway(settings_for(sandbox, BEZEL_GATEWAY__BUDGET_MS="300",
                                        BEZEL_VENDORS__TAX__TIMEOUT_MS="5000")) as gateway:
        started = time.monotonic()
        await gateway.gql(PRODUCT_PAGE_QUERY, headers={"x-bezel-budget-ms": "60000"})
        assert time.monotonic() - started < 0.3 + 1.0


async def test_a_vendor_secret_never_reaches_the_client(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tax key is sent to the vendor; when the vendor fails, neither the key nor its body is shown."""
    monkeypatch.setenv("TAXJAR_API_KEY", "sk_live_do_not_leak_4242")
    async with run_gateway(settings_for(sandbox)) as gateway:
        sandbox.fault("tax", status=401)
        response = await gateway.post(PRODUCT_PAGE_QUERY)
    assert "sk_live_do_not_leak_4242" not in response.text
    assert "Not authorized" not in response.text
    assert response.json()["data"]["product"]["taxEstimate"] is None
