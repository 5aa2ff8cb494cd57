"""Live pages in a real browser: the storefront's product and order pages follow their subscriptions
(ProductChanged, OrderUpdated; Apollo's multipart subscriptions by trusted-document id) against `bezel dev`.

Two shoppers look at the one-of-a-kind emerald ring; one buys it through the shop, the other's page says it is
sold and will not bag it, with no request of its own. A price edit in the catalog (Shopify's products/update,
from the sandbox) repaints an open page. The order page follows its order to every system with one
subscription and no lookup. A subscription refused for now (503, Retry-After) is asked again; one refused
for good (403: an id the gateway does not trust) is not. This module places 2 orders of the 5 a client may
place per minute.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable

from playwright.sync_api import Page, Request, Route, expect

from tests.browser.support import BezelDev, expect_complete, graphql_requests, operation_of
from tests.browser.test_storefront import SYNC_TIMEOUT_MS, add_to_bag, expect_order_page, fill_checkout
from tests.e2e.test_checkout import PLACE, order_input

RING = "art-deco-emerald-ring"  # one of a kind: ADE-S0650, quantity 1
BROOCH_SKU = "VIC-ORIG"
BROOCH = "victorian-diamond-brooch"


def open_live(page: Page, url: str) -> None:
    """A product page with every part painted and its subscription's first message in."""
    page.goto(url)
    expect_complete(page)
    expect(page.locator("body")).to_have_attribute("data-live", "live")


def test_two_pages_on_the_one_of_a_kind_ring_one_buys_and_the_other_shows_it_sold(
    page: Page, other_page: Page, bezel: BezelDev,
) -> None:
    open_live(other_page, f"{bezel.url}/products/{RING}")
    expect(other_page.get_by_test_id("stock")).to_have_text("Only 1 left")
    expect(other_page.get_by_test_id("add-to-bag")).to_be_enabled()
    sent = graphql_requests(other_page)

    add_to_bag(page, bezel, RING)  # the first shopper buys it through the shop
    fill_checkout(page, bezel, "tok_visa")
    page.get_by_test_id("place-order").click()
    expect_order_page(page, bezel)

    expect(other_page.get_by_test_id("stock")).to_have_text("Sold out")
    expect(other_page.get_by_test_id("stock")).to_have_attribute("data-tone", "out")
    expect(other_page.get_by_test_id("add-to-bag")).to_be_disabled()
    expect(other_page.get_by_test_id("add-to-bag")).to_have_text("Sold out")
    expect(other_page.locator("body")).to_have_attribute("data-live", "live")  # still following
    assert sent("ProductPublic") == sent("ProductShopper") == []
    assert sent("ProductChanged") == []  # told on the subscription it already had, not by asking again


def test_a_price_edit_in_the_catalog_repaints_an_open_page(page: Page, bezel: BezelDev) -> None:
    open_live(page, f"{bezel.url}/products/{BROOCH}?zip=10199")
    expect(page.get_by_test_id("price")).to_have_text("$9,800")

    bezel.sandbox.set_price(BROOCH_SKU, "9950.00")  # Shopify's products/update reaches the gateway

    expect(page.get_by_test_id("price")).to_have_text("$9,950")
    expect(page.locator("body")).to_have_attribute("data-live", "live")


def test_the_order_page_follows_its_order_to_synced_with_no_polling(page: Page, bezel: BezelDev) -> None:
    hoops = bezel.graphql('{ product(handle: "gold-huggie-hoops") { variants { id } } }')
    variant = hoops["data"]["product"]["variants"][0]["id"]
    bezel.sandbox.stock_all("gold-huggie-hoops", 5)
    placed = bezel.graphql(PLACE, {"i": order_input([{"variantId": variant}], key=str(uuid.uuid4()))})
    order, token = placed["data"]["placeOrder"]["order"], placed["data"]["placeOrder"]["orderToken"]
    page.goto(f"{bezel.url}/")  # the token is kept on the device that placed the order, as checkout keeps it
    page.evaluate("([id, token]) => localStorage.setItem(`bezel.order.${id}`, JSON.stringify({id, token}))",
                  [order["id"], token])
    sent = graphql_requests(page)

    page.goto(f"{bezel.url}/orders/{order['id']}")
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "CONFIRMED")
    for system in ("erp", "wms", "crm"):
        expect(page.get_by_test_id(f"downstream-{system}")).to_have_attribute("data-status", "SYNCED",
                                                                            timeout=SYNC_TIMEOUT_MS)
    expect(page.locator(".order")).to_have_attribute("data-sync", "done")
    expect(page.get_by_role("status")).to_have_text("Your order is confirmed and on its way to our workshop.")
    expect(page.locator("body")).to_have_attribute("data-live", re.compile("^(live|done)$"))
    assert sent("OrderLookup") == []  # no polling
    assert len(sent("OrderUpdated")) == 1  # one subscription, followed to the end


def refusing_the_first_subscription(status: int, code: str, headers: dict[str, str],
                                    tried: list[Request]) -> Callable[[Route], None]:
    """A route handler answering the page's first ProductChanged request with `status` and `code`, and letting
    everything else (the later ones too) through to the gateway; `tried` gets every ProductChanged request."""
    def handle(route: Route) -> None:
        if operation_of(route.request) != "ProductChanged":
            route.fallback()
            return
        tried.append(route.request)
        if len(tried) > 1:
            route.fallback()
            return
        route.fulfill(status=status, headers=headers, content_type="application/json",
                      body=json.dumps({"errors": [{"message": "refused", "extensions": {"code": code}}]}))
    return handle


def test_a_subscription_refused_for_now_is_asked_again_after_its_retry_after(page: Page, bezel: BezelDev) -> None:
    tried: list[Request] = []
    page.route("**/graphql", refusing_the_first_subscription(503, "OVERLOADED", {"retry-after": "1"}, tried))
    page.goto(f"{bezel.url}/products/{BROOCH}")
    expect_complete(page)
    expect(page.locator("body")).to_have_attribute("data-live", "live")
    assert len(tried) == 2


def test_an_unfixable_refusal_stops_following_and_leaves_the_page_working(page: Page, bezel: BezelDev) -> None:
    tried: list[Request] = []
    page.route("**/graphql", refusing_the_first_subscription(403, "PERSISTED_QUERY_NOT_IN_LIST", {}, tried))
    page.goto(f"{bezel.url}/products/{BROOCH}")
    expect_complete(page)
    expect(page.locator("body")).to_have_attribute("data-live", "off")
    page.wait_for_timeout(1000)  # more than the first backoff: it did not ask again
    assert len(tried) == 1
    expect(page.get_by_test_id("add-to-bag")).to_be_enabled()
