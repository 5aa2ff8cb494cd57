"""The product page streams (@defer): its title is on screen long before its slowest vendor has answered, and
without @defer (`?defer=0`) each of its two requests (ProductPublic by GET, ProductShopper by POST) comes in one
answer, so none of the shopper's part shows before that vendor has answered.

Times are the storefront's own Performance API marks (`bezel:request`, `bezel:title`, `bezel:complete`, from
navigation start, on the browser's clock), never the test's wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Response, expect

from tests.browser.support import BezelDev, expect_complete, operation_of, page_marks, run_bezel_dev

PENDANT = "lumiere-sapphire-pendant"
PENDANT_TITLE = "Lumière Sapphire Pendant"
SLOW_MS = 2_000  # added to engraving's usual ~240 ms
TITLE_WITHIN_MS = 300
# With the README's budget (1200 ms) and engraving's timeout (900 ms) the gateway gives up on a 2 s engraving
# call and the page says the preview is unavailable (test_storefront.py has that case). Here it waits for it,
# so one part of the page really arrives ~2 s after the rest.
SLOW_PART_ENV = {"BEZEL_GATEWAY__BUDGET_MS": "4000", "BEZEL_VENDORS__ENGRAVING__TIMEOUT_MS": "3500"}


@pytest.fixture(scope="module")
def bezel_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BezelDev]:
    with run_bezel_dev(tmp_path_factory.mktemp("bezel-dev-slow-part"), env=SLOW_PART_ENV) as running:
        yield running


def warm_up(page: Page, bezel: BezelDev) -> None:
    """A first page load in a fresh gateway pays for cold connections (the gateway's to each vendor, the browser's
    to the gateway) and for the catalog's first answer; a shopper on a running shop does not. One load with its
    own ZIP and engraving, so the measured load that follows still asks every vendor afresh."""
    page.goto(f"{bezel.url}/products/{PENDANT}?zip=10001&engraving=Warm+up")
    expect_complete(page)


def shopper_response(response: Response) -> bool:
    """The answer to the product page's shopper's part (ProductShopper): where the slow engraving preview is."""
    return operation_of(response.request) == "ProductShopper"


def test_the_title_paints_at_once_while_the_engraving_preview_takes_2s(page: Page, bezel: BezelDev) -> None:
    warm_up(page, bezel)
    bezel.fault("engraving", delay_ms=SLOW_MS)

    # Up to three new shoppers, until one sees the title within 300 ms: on a busy machine the browser alone
    # (parsing, timers) can now and then take most of that. What this test guards against, the title waiting for
    # the slow part, makes every load take >= 2 s, so a retry cannot hide it; every load must stream.
    loads = []
    for shopper in range(1, 4):
        marks = new_shopper_load(page, bezel, zip_code=f"{10120 + shopper}", engraving=f"Love {shopper:04d}")
        loads.append(marks)
        assert marks["request"] <= marks["title"] <= marks["complete"], loads
        assert marks["complete"] >= SLOW_MS, loads  # the preview came after the 2 s engraving call, in its own part
        if marks["title"] < TITLE_WITHIN_MS:
            break
    assert min(m["title"] for m in loads) < TITLE_WITHIN_MS, loads


def new_shopper_load(page: Page, bezel: BezelDev, *, zip_code: str, engraving: str) -> dict[str, float]:
    """The product page for a new shopper, with engraving slowed: a ZIP and an engraving text no page asked for
    yet, so tax, insurance and engraving are asked live (none from cache) and the slow vendor is really waited for.
    Checks what the page shows, before and after the slow part; the page's marks."""
    engraving_calls = bezel.calls()["engraving"]
    with page.expect_response(shopper_response) as answer:
        page.goto(f"{bezel.url}/products/{PENDANT}?zip={zip_code}&engraving={engraving.replace(' ', '+')}")
    assert answer.value.headers["content-type"].startswith("multipart/mixed")  # its parts stream in

    expect(page.get_by_test_id("product-title")).to_have_text(PENDANT_TITLE)
    figure = page.locator("figure.engraving-preview")
    expect(figure).to_have_attribute("data-state", "pending")  # painted before the preview: ~2 s to go
    expect(figure).to_contain_text("Preparing the engraving preview")
    expect(page.get_by_test_id("engraving-text")).to_have_value(engraving)  # prefilled from the URL
    expect(page.get_by_test_id("ship-zip")).to_have_value(zip_code)

    preview = page.get_by_test_id("engraving-preview")
    expect(preview).to_have_attribute("src", re.compile(r"^http://127\.0\.0\.1:\d+/engraving/previews/\S+\.svg$"))
    expect(preview).to_have_attribute("alt", f"Preview of the engraving “{engraving}”")
    expect_complete(page)
    expect(page.get_by_test_id("tax")).to_contain_text(f"on delivery to New York {zip_code}")
    assert bezel.calls()["engraving"] > engraving_calls  # the slowed vendor was asked, not a cached preview used

    return page_marks(page)


def test_without_defer_the_shopper_s_part_comes_in_one_answer_after_the_slowest_vendor(
    page: Page, bezel: BezelDev,
) -> None:
    warm_up(page, bezel)
    bezel.fault("engraving", delay_ms=SLOW_MS)

    with page.expect_response(lambda r: operation_of(r.request) == "ProductPublic") as public, \
            page.expect_response(shopper_response) as shopper:
        page.goto(f"{bezel.url}/products/{PENDANT}?zip=10124&engraving=Love+0043&defer=0")
    assert public.value.headers["content-type"].startswith("application/json")
    assert shopper.value.headers["content-type"].startswith("application/json")

    expect(page.get_by_test_id("product-title")).to_have_text(PENDANT_TITLE)
    expect(page.get_by_test_id("price")).to_have_text(re.compile(r"^\$[\d,]+$"))
    tax = page.get_by_test_id("tax")
    expect_complete(page)
    expect(tax).to_have_attribute("data-state", "ready")
    expect(tax).to_contain_text(re.compile(r"\$[\d,]+\.\d{2}.*on delivery to New York 10124"))
    expect(page.get_by_test_id("insurance")).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("financing")).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("stock")).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("engraving-preview")).to_have_attribute("alt", "Preview of the engraving “Love 0043”")

    marks = page_marks(page)
    assert marks["request"] <= marks["title"] <= marks["complete"], marks
    assert marks["complete"] >= SLOW_MS, marks  # the shopper's part came whole, after the slow engraving call
