"""The demo storefront in a real browser, against `bezel dev` as `make run` starts it (vendors at their usual
latency, the order-sync workers, the README's budgets and limits): the shop window, a vendor hanging under the
product page, and checkout from the product page to an order every back-office system has.

One `bezel dev` serves the whole module; the `bezel` fixture gives every test a healthy sandbox with its starting
stock and zeroed call counts. The gateway keeps what it learnt between tests (its caches, its stock counters in
Redis), so each checkout test buys a product no other test here buys, and every page that must reach a vendor
is opened with a ZIP or engraving text no other page asked for. Every request comes from 127.0.0.1, one client to
the README's limits: this module places 4 orders of the 5 a client may place per minute (`[limits] checkout`) and
tries 1 declining card of 3 per 10 minutes; a test placing more orders belongs in a module of its own.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, Request, Route, expect

from tests.browser.conftest import PageLog
from tests.browser.support import BezelDev, expect_complete, graphql_requests, operation_of, page_marks

PENDANT = "lumiere-sapphire-pendant"
PENDANT_TITLE = "Lumière Sapphire Pendant"
MONEY = re.compile(r"^\$\d{1,3}(,\d{3})*\.\d{2}$")
SYNC_TIMEOUT_MS = 20_000  # ERP, WMS and CRM each get the order from the workers within a few seconds; CI is slower
ORDER_QUERY = """query($id: ID!, $token: String!) {
  order(id: $id, token: $token) {
    id status total { amount } lines { sku quantity engravingText } downstream { system status }
  }
}"""


# --- the shop window --------------------------------------------------------------------------------------------

def test_the_shop_window_lists_pieces_and_opens_one(page: Page, bezel: BezelDev) -> None:
    page.goto(bezel.url)

    cards = page.get_by_test_id("product-card")
    expect(cards).to_have_count(12)  # the first page of the catalog's 16
    more = page.get_by_test_id("more")
    more.click()  # the next page, after the cursor
    expect(cards).to_have_count(16)
    expect(more).to_be_hidden()
    expect(cards.filter(has_text="Padparadscha")).to_contain_text("$42,000")  # one of a kind: one price
    pendant = cards.filter(has_text=PENDANT_TITLE)
    expect(pendant).to_contain_text(re.compile(r"From \$[\d,]+"))  # 30 variants: from the lowest price

    page.evaluate("() => { window.sameDocument = true; }")
    pendant.get_by_role("link").click()

    expect(page).to_have_url(f"{bezel.url}/products/{PENDANT}")
    expect(page.get_by_test_id("product-title")).to_have_text(PENDANT_TITLE)
    expect_complete(page)
    expect(page.get_by_test_id("price")).to_have_text(re.compile(r"^\$[\d,]+$"))
    expect(page).to_have_title(f"{PENDANT_TITLE} — Bezel")
    assert page.evaluate("() => window.sameDocument") is True  # the router's own navigation, not a page load

    page.go_back()
    expect(page).to_have_url(f"{bezel.url}/")
    expect(page.get_by_test_id("product-card")).to_have_count(12)


# --- the product page's two requests ----------------------------------------------------------------------------

def test_the_product_page_asks_its_public_part_by_get_and_the_shopper_s_part_by_post(page: Page,
                                                                                     bezel: BezelDev) -> None:
    """The public part (the piece, prices, stock) by GET with nothing of the shopper's in its URL, so an edge
    may cache it for everyone; the shopper's address and engraving text only in a POST's body."""
    sent = graphql_requests(page)
    page.goto(f"{bezel.url}/products/{PENDANT}?zip=10032&engraving=Split+0001")
    expect_complete(page)

    [public] = sent("ProductPublic")
    assert public.method == "GET"
    assert public.post_data is None
    url = urlsplit(public.url)
    params = parse_qs(url.query)
    assert set(params) == {"documentId", "operationName", "variables"}
    assert json.loads(params["variables"][0]) == {"handle": PENDANT}
    for shopper_data in ("10032", "Split", "NY", "zip", "shipTo", "engraving"):
        assert shopper_data not in url.query, public.url
    [shopper] = sent("ProductShopper")
    assert shopper.method == "POST"
    assert urlsplit(shopper.url).query == ""
    variables = json.loads(shopper.post_data or "{}")["variables"]
    assert variables["shipTo"]["zip"] == "10032"
    assert variables["engraving"]["text"] == "Split 0001"
    assert sent("ProductPage") == []

    # Every part painted, whichever request brought it.
    expect(page.get_by_test_id("product-title")).to_have_text(PENDANT_TITLE)
    expect(page.get_by_test_id("price")).to_have_text(re.compile(r"^\$[\d,]+$"))
    expect(page.get_by_test_id("stock")).to_have_attribute("data-state", "ready")
    for part in ("tax", "insurance", "financing"):
        expect(page.get_by_test_id(part)).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("tax")).to_contain_text("on delivery to New York 10032")
    expect(page.get_by_test_id("engraving-preview")).to_have_attribute("alt", "Preview of the engraving “Split 0001”")

    # Estimates asked again for another ZIP: the shopper's address, so a POST.
    page.get_by_test_id("ship-zip").fill("10033")
    page.get_by_test_id("ship-zip").press("Enter")
    expect(page.get_by_test_id("tax")).to_contain_text("on delivery to New York 10033")
    assert [r.method for r in sent("ProductQuotes")] == ["POST"]

    # And the piece goes in the bag, engraved.
    page.get_by_test_id("add-to-bag").click()
    expect(page.get_by_test_id("bag-count")).to_have_text("(1)")
    page.get_by_role("link", name="View your bag").click()
    line = page.get_by_test_id("bag-line")
    expect(line).to_have_count(1)
    expect(line).to_contain_text(PENDANT_TITLE)
    expect(line).to_contain_text("Engraved: “Split 0001”")


def test_with_the_shopper_s_part_refused_the_page_still_sells(page: Page, bezel: BezelDev) -> None:
    """ProductShopper answered 503 (a gateway shedding load): the public part is the page; the shopper's parts
    say they are unavailable, and the piece goes in the bag."""
    def refuse_shopper(route: Route) -> None:
        if operation_of(route.request) != "ProductShopper":
            route.fallback()
            return
        route.fulfill(status=503, headers={"retry-after": "1"}, content_type="application/json",
                      body=json.dumps({"errors": [{"message": "busy", "extensions": {"code": "OVERLOADED"}}]}))

    page.route("**/graphql*", refuse_shopper)
    page.goto(f"{bezel.url}/products/{PENDANT}?zip=10034")
    expect_complete(page)
    expect(page.get_by_test_id("product-title")).to_have_text(PENDANT_TITLE)
    expect(page.get_by_test_id("stock")).to_have_attribute("data-state", "ready")
    for part in ("tax", "insurance", "financing"):
        expect(page.get_by_test_id(part)).to_have_attribute("data-state", "unavailable")
    expect(page.get_by_test_id("add-to-bag")).to_be_enabled()
    page.get_by_test_id("add-to-bag").click()
    expect(page.get_by_test_id("bag-count")).to_have_text("(1)")


# --- a vendor that never answers ---------------------------------------------------------------------------------

def test_a_hung_engraving_vendor_leaves_the_rest_of_the_page_working(page: Page, page_log: PageLog,
                                                                     bezel: BezelDev) -> None:
    bezel.fault("engraving", hang=True)

    # An engraving text nobody asked for before: a rendered preview of it cannot come from the gateway's cache.
    page.goto(f"{bezel.url}/products/{PENDANT}?zip=10031&engraving=Hung+0001")

    # The gateway's budget (1200 ms; engraving's own timeout is 900 ms) bounds the wait: well within 5 s.
    expect(page.get_by_test_id("engraving-unavailable")).to_have_text(
        re.compile("Engraving preview is unavailable right now"), timeout=5_000)
    expect_complete(page, timeout_ms=5_000)
    expect(page.get_by_test_id("engraving-preview")).to_have_count(0)
    expect(page.get_by_test_id("product-title")).to_have_text(PENDANT_TITLE)
    expect(page.get_by_test_id("price")).to_have_text(re.compile(r"^\$[\d,]+$"))
    tax = page.get_by_test_id("tax")
    expect(tax).to_have_attribute("data-state", "ready")
    expect(tax).to_contain_text("on delivery to New York 10031")
    expect(page.get_by_test_id("stock")).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("add-to-bag")).to_be_enabled()
    expect(page.get_by_test_id("engraving-text")).to_have_value("Hung 0001")  # the shopper's words are kept

    marks = page_marks(page)
    assert marks["complete"] - marks["request"] < 3_000, marks  # the budget, not the hung vendor, set the pace
    assert bezel.calls()["engraving"] >= 1  # the vendor was really asked, and never answered
    assert page_log.console_errors == []  # a vendor down is not an error of the page

    page.get_by_test_id("add-to-bag").click()  # and the piece can be bought, engraved, without a preview
    expect(page.get_by_test_id("bag-count")).to_have_text("(1)")


def test_an_engraving_text_from_the_url_is_checked_like_a_typed_one(page: Page, bezel: BezelDev) -> None:
    # `?engraving=` prefills the field and is previewed in the page's first request; a text the engraving vendor
    # refuses is said in Bezel's words, and the piece cannot go in the bag with it.
    page.goto(f"{bezel.url}/products/{PENDANT}?engraving=%3Cb%3E")
    expect_complete(page)
    text = page.get_by_test_id("engraving-text")
    expect(text).to_have_value("<b>")
    expect(text).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#engraving-error")).to_have_text(re.compile(r"^Engraving text may only use A-Z a-z 0-9"))
    expect(page.get_by_test_id("add-to-bag")).to_be_disabled()

    text.fill("")  # the shopper clears it: the sample engraving, never rendered for this page yet, is asked for
    expect(text).to_have_attribute("aria-invalid", "false")
    preview = page.get_by_test_id("engraving-preview")
    expect(preview).to_have_attribute("alt", "Preview of the engraving “Forever Yours”")
    expect(page.locator("figure.engraving-preview figcaption")).to_have_text(
        "A sample engraving. Type your own words above.")
    expect(page.get_by_test_id("add-to-bag")).to_be_enabled()


# --- checkout -----------------------------------------------------------------------------------------------------

def add_to_bag(page: Page, bezel: BezelDev, handle: str, *, engraving: str | None = None) -> None:
    """Opens a product page, optionally types an engraving (waiting for its preview), adds the piece to the bag
    and goes to the bag through the page's own link."""
    page.goto(f"{bezel.url}/products/{handle}")
    expect_complete(page)
    if engraving:
        page.get_by_test_id("engraving-text").fill(engraving)
        preview = page.get_by_test_id("engraving-preview")
        expect(preview).to_have_attribute("alt", f"Preview of the engraving “{engraving}”")
        expect(page.locator("figure.engraving-preview figcaption")).to_have_text("Your engraving, as we will make it.")
    expect(page.get_by_test_id("add-to-bag")).to_be_enabled()
    page.get_by_test_id("add-to-bag").click()
    expect(page.get_by_test_id("bag-count")).to_have_text("(1)")
    page.get_by_role("link", name="View your bag").click()
    expect(page).to_have_url(f"{bezel.url}/bag")


def bag_total(page: Page) -> str:
    """The bag's total once the server priced it (tax and insured delivery included)."""
    total = page.get_by_test_id("bag-total")
    expect(total).to_have_attribute("data-state", "complete")
    expect(total).to_have_text(MONEY)
    return total.inner_text()


def fill_checkout(page: Page, bezel: BezelDev, card: str) -> None:
    """From the bag to a filled-in checkout form, paying with `card` (a value of the card select)."""
    page.get_by_test_id("checkout").click()
    expect(page).to_have_url(f"{bezel.url}/checkout")
    expect_complete(page)
    expect(page.get_by_test_id("place-order")).to_have_text(re.compile(r"^Place order · \$"))
    page.get_by_test_id("email").fill("ada@example.com")
    page.get_by_test_id("line1").fill("580 Fifth Avenue")
    page.get_by_test_id("city").fill("New York")
    expect(page.get_by_test_id("province")).to_have_value("NY")
    expect(page.get_by_test_id("zip")).to_have_value("10001")
    page.get_by_test_id("card").select_option(card)


def expect_order_page(page: Page, bezel: BezelDev) -> str:
    """Until the order page shows a confirmed order; its id."""
    expect(page).to_have_url(re.compile(re.escape(f"{bezel.url}/orders/") + r"[^/?]+$"))
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "CONFIRMED")
    return page.url.rsplit("/", 1)[1]


def order_token(page: Page, order_id: str) -> str:
    """The order token the storefront kept on this device (the only key to the order)."""
    saved = page.evaluate("(id) => localStorage.getItem(`bezel.order.${id}`)", order_id)
    assert saved, f"no token kept for {order_id}"
    return json.loads(saved)["token"]


def place_order_requests(page: Page) -> list[Request]:
    """Every PlaceOrder request the page sends from now on."""
    sent: list[Request] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/graphql"):
            body = json.loads(request.post_data or "{}")
            if body.get("operationName") == "PlaceOrder":
                sent.append(request)

    page.on("request", on_request)
    return sent


def test_a_full_checkout_reaches_erp_wms_and_crm(page: Page, bezel: BezelDev) -> None:
    bezel.sandbox.stock_all(PENDANT, 10)  # plenty of every variant, whichever the page shows first

    add_to_bag(page, bezel, PENDANT, engraving="A & B 2026")
    line = page.get_by_test_id("bag-line")
    expect(line).to_have_count(1)
    expect(line).to_contain_text(PENDANT_TITLE)
    expect(line).to_contain_text("Engraved: “A & B 2026”")
    total = bag_total(page)
    expect(page.get_by_test_id("bag-tax")).to_contain_text("$")
    expect(page.get_by_test_id("bag-insurance")).to_contain_text("$")

    fill_checkout(page, bezel, "tok_visa")
    expect(page.get_by_test_id("place-order")).to_have_text(f"Place order · {total}")
    page.get_by_test_id("place-order").click()

    order_id = expect_order_page(page, bezel)
    expect(page.get_by_test_id("order-total")).to_have_text(total)  # what the bag said is what was charged
    expect(page.get_by_test_id("bag-count")).to_have_text("")  # the bag is emptied
    for system in ("erp", "wms", "crm"):
        expect(page.get_by_test_id(f"downstream-{system}")).to_have_attribute("data-status", "SYNCED",
                                                                            timeout=SYNC_TIMEOUT_MS)
    expect(page.locator(".order")).to_have_attribute("data-sync", "done")
    expect(page.get_by_role("status")).to_have_text("Your order is confirmed and on its way to our workshop.")

    # The same order through the public API, with the token the page kept (and never put in a URL).
    token = order_token(page, order_id)
    assert token not in page.url
    answer = bezel.graphql(ORDER_QUERY, {"id": order_id, "token": token})
    order = answer["data"]["order"]
    assert order["status"] == "CONFIRMED"
    assert f"${float(order['total']['amount']):,.2f}" == total
    assert [(line["quantity"], line["engravingText"]) for line in order["lines"]] == [(1, "A & B 2026")]
    synced = {d["system"]: d["status"] for d in order["downstream"]}
    assert {synced[s] for s in ("ERP", "WMS", "CRM")} == {"SYNCED"}, synced
    assert len(bezel.received("erp")) == 1
    assert bezel.calls()["payments"] == 1  # one authorization, captured later when the piece ships


def test_a_declined_card_says_so_and_holds_nothing(page: Page, bezel: BezelDev) -> None:
    handle = "diamond-stud-earrings"
    skus = bezel.sandbox.stock_all(handle, 3)  # at safety stock: plentiful, so checkout holds it before paying
    add_to_bag(page, bezel, handle)
    sku = order_sku(bezel, page, handle)
    assert sku in skus
    page.get_by_label(re.compile("^Quantity of")).select_option("3")  # every unit there is
    total = bag_total(page)
    before = availability(bezel, handle, sku)
    assert before == {"status": "IN_STOCK", "quantityAvailable": 3}, before

    fill_checkout(page, bezel, "tok_chargeDeclined")
    expect(page.get_by_test_id("card")).to_contain_text("Declined card")
    page.get_by_test_id("place-order").click()

    error = page.get_by_test_id("checkout-error")
    expect(error).to_have_text("Your card was declined. Please try another card.")
    expect(error).to_be_visible()
    expect(page.get_by_test_id("place-order")).to_be_enabled()
    expect(page).to_have_url(f"{bezel.url}/checkout")  # no order page
    expect(page.get_by_test_id("bag-count")).to_have_text("(3)")  # the bag is kept
    assert bezel.calls()["payments"] == 1  # the card was really tried...
    assert bezel.received("erp") == {}  # ...and no order was made
    assert bezel.stock(sku) == 3
    assert availability(bezel, handle, sku) == before

    # Nothing is held: the same shopper, with another card, at once buys every unit there is.
    page.get_by_test_id("card").select_option("tok_visa")
    page.get_by_test_id("place-order").click()
    order_id = expect_order_page(page, bezel)
    expect(page.get_by_test_id("order-total")).to_have_text(total)
    order = bezel.graphql(ORDER_QUERY, {"id": order_id, "token": order_token(page, order_id)})["data"]["order"]
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [(sku, 3)]
    assert bezel.calls()["payments"] == 2


def test_a_double_click_on_place_order_places_one_order(page: Page, bezel: BezelDev) -> None:
    handle = "akoya-pearl-strand"
    bezel.sandbox.stock_all(handle, 5)
    add_to_bag(page, bezel, handle)
    fill_checkout(page, bezel, "tok_visa")
    sent = place_order_requests(page)

    page.get_by_test_id("place-order").dblclick()

    expect_order_page(page, bezel)
    expect(page.get_by_test_id("downstream-erp")).to_have_attribute("data-status", "SYNCED", timeout=SYNC_TIMEOUT_MS)
    assert len(sent) == 1, [r.post_data for r in sent]  # the page sent one request...
    assert bezel.calls()["payments"] == 1  # ...which authorized one payment...
    assert len(bezel.received("erp")) == 1  # ...for one order


def order_sku(bezel: BezelDev, page: Page, handle: str) -> str:
    """The SKU of the (only) line in the bag, found by its variant id among the product's variants."""
    variant_id = page.get_by_test_id("bag-line").get_attribute("data-variant-id")
    answer = bezel.graphql("query($h: String!) { product(handle: $h) { variants { id sku } } }", {"h": handle})
    [sku] = [v["sku"] for v in answer["data"]["product"]["variants"] if v["id"] == variant_id]
    return sku


def availability(bezel: BezelDev, handle: str, sku: str) -> dict[str, object]:
    """{status, quantityAvailable} of one variant, as the gateway reports it to any storefront."""
    answer = bezel.graphql(
        "query($h: String!) { product(handle: $h) { variants { sku availability { status quantityAvailable } } } }",
        {"h": handle})
    [variant] = [v for v in answer["data"]["product"]["variants"] if v["sku"] == sku]
    return variant["availability"]
