"""A failing tax vendor: the product page shows the last estimate it had, saying how old it is.

The estimate must be old enough to be asked for again, so this module's gateway keeps tax answers fresh for 1 s
(the README's default is an hour) and serves nothing past that while it refreshes (no stale-while-revalidate).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import BezelDev, expect_complete, run_bezel_dev

TAX_TTL_S = 1
SHORT_LIVED_TAX = {"BEZEL_VENDORS__TAX__CACHE_TTL_S": str(TAX_TTL_S), "BEZEL_VENDORS__TAX__REVALIDATE_S": "0"}


@pytest.fixture(scope="module")
def bezel_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BezelDev]:
    with run_bezel_dev(tmp_path_factory.mktemp("bezel-dev-short-tax"), env=SHORT_LIVED_TAX) as running:
        yield running


def test_a_failing_tax_vendor_shows_the_last_estimate_with_its_age(page: Page, bezel: BezelDev) -> None:
    product = f"{bezel.url}/products/lumiere-sapphire-pendant"
    page.goto(product)
    tax = page.get_by_test_id("tax")
    expect(tax).to_have_attribute("data-state", "ready")
    expect(tax).to_contain_text("on delivery to New York 10001")
    expect(tax).not_to_contain_text(" ago")  # a live answer says nothing about its age
    estimate = tax.locator(".estimate__value").inner_text()
    assert estimate.startswith("$"), estimate

    time.sleep(TAX_TTL_S + 0.5)  # the one fixed wait: the estimate must outlive its TTL to be asked for again
    bezel.fault("tax", status=500)
    tax_calls = bezel.calls()["tax"]
    page.reload()

    expect_complete(page)
    expect(tax).to_have_attribute("data-state", "ready")
    expect(tax.locator(".estimate__value")).to_have_text(estimate)
    expect(tax).to_contain_text("on delivery to New York 10001")
    expect(tax).to_contain_text("tax estimate from a few seconds ago")
    assert bezel.calls()["tax"] > tax_calls  # the vendor was asked (and failed): not a fresh answer from cache
