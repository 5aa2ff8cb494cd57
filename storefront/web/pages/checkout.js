// Checkout (/checkout): contact, delivery address, insurance and a test card; placeOrder with one
// idempotency key per order attempt (see checkout/attempt.js). On success the order's token is
// kept on this device, the bag is emptied and the order page opens.

import * as address from "../address.js";
import { ignoreAbort } from "../api.js";
import * as bag from "../bag.js";
import { checkoutAttempt } from "../checkout/attempt.js";
import { fill, h } from "../dom.js";
import { money } from "../format.js";
import { checkoutError, checkoutRequestFailed } from "../messages.js";
import * as orders from "../orders.js";
import { quoteBag, summaryView } from "../summary.js";

const CARDS = [
  ["tok_visa", "Visa ending in 4242 (test card)"],
  ["tok_mastercard", "Mastercard ending in 4444 (test card)"],
  ["tok_amex", "American Express ending in 8431 (test card)"],
  ["tok_chargeDeclined", "Declined card (test card)"],
];

// A userError's field path, joined with dots -> the id of the input it is about.
const FIELD_IDS = {
  email: "email",
  "shipTo.line1": "line1",
  "shipTo.line2": "line1",
  "shipTo.city": "city",
  "shipTo.provinceCode": "province",
  "shipTo.zip": "zip",
  "shipTo.countryCode": "zip",
  paymentToken: "card",
};

export async function render(root, ctx) {
  document.title = "Checkout — Bezel";
  const lines = bag.lines();
  if (!lines.length) {
    fill(root, h("section", { class: "empty" },
      h("h1", {}, "Your bag is empty"),
      h("p", {}, "There is nothing to check out yet. ", h("a", { href: "/" }, "Discover our pieces"), ".")));
    ctx.complete();
    return;
  }

  const attempt = checkoutAttempt(); // its idempotency key lives as long as this page
  const saved = address.shipTo();
  let busy = false;

  const field = (id, label, input, hint) => h("div", { class: "field" },
    h("label", { for: id }, label), input,
    hint ? h("p", { class: "hint" }, hint) : null,
    h("p", { class: "field-error", id: `${id}-error`, role: "alert" }));
  const input = (id, attrs) => h("input", { id, name: id, "data-testid": id, "aria-describedby": `${id}-error`, ...attrs });

  const email = input("email", { type: "email", autocomplete: "email", required: true });
  const line1 = input("line1", { autocomplete: "shipping address-line1", required: true });
  const city = input("city", { autocomplete: "shipping address-level2", required: true });
  const province = h("select", { id: "province", name: "province", "data-testid": "province", autocomplete: "shipping address-level1", "aria-describedby": "province-error" },
    address.US_STATES.map(([code, name]) => h("option", { value: code, selected: code === saved.provinceCode }, name)));
  const zip = input("zip", { autocomplete: "shipping postal-code", inputmode: "numeric", value: saved.zip, required: true, maxlength: 10 });
  const insure = input("insure", { type: "checkbox", checked: address.insure() });
  const card = h("select", { id: "card", name: "card", "data-testid": "card", "aria-describedby": "card-error" },
    CARDS.map(([token, label]) => h("option", { value: token }, label)));
  const placeOrder = h("button", { type: "submit", class: "button button--primary button--wide", "data-testid": "place-order" }, "Place order");
  const error = h("p", { class: "notice notice--error", role: "alert", tabindex: "-1", "data-testid": "checkout-error", hidden: true });
  const totals = h("div", { class: "checkout__totals", "aria-live": "polite" });

  const form = h("form", { class: "checkout__form", novalidate: true, "aria-label": "Checkout" },
    h("fieldset", {}, h("legend", {}, "Contact"),
      field("email", "Email", email, "For your receipt and delivery updates.")),
    h("fieldset", {}, h("legend", {}, "Delivery address"),
      field("line1", "Street address", line1),
      field("city", "City", city),
      h("div", { class: "field-row" }, field("province", "State", province), field("zip", "ZIP code", zip)),
      h("p", { class: "hint" }, "We deliver within the United States.")),
    h("fieldset", {}, h("legend", {}, "Protection"),
      h("div", { class: "field field--check" }, insure,
        h("label", { for: "insure" }, "Insure this shipment for its full value, door to door"))),
    h("fieldset", {}, h("legend", {}, "Payment"),
      field("card", "Card", card, "Your card is authorized now and charged only when your piece ships.")),
    error,
    placeOrder);

  fill(root, h("h1", {}, "Checkout"),
    h("div", { class: "checkout" }, form,
      h("aside", { class: "checkout__summary", "aria-label": "Order summary" },
        h("h2", {}, "Your order"),
        h("ul", { class: "checkout__lines" }, lines.map((l) => h("li", {},
          h("span", {}, `${l.title}${l.quantity > 1 ? ` × ${l.quantity}` : ""}`,
            l.variantTitle && l.variantTitle !== "Default Title" ? h("span", { class: "hint" }, ` — ${l.variantTitle}`) : null,
            l.engravingText ? h("span", { class: "hint" }, ` — engraved “${l.engravingText}”`) : null)))),
        totals,
        h("p", { class: "hint" }, h("a", { href: "/bag" }, "Edit your bag")))));

  // The totals, priced again whenever the address or insurance changes.
  let quoteSeq = 0;
  async function requote() {
    const shipTo = { countryCode: "US", provinceCode: province.value, zip: zip.value.trim() };
    if (!address.isZip(shipTo.zip)) return;
    const mine = ++quoteSeq;
    totals.setAttribute("aria-busy", "true");
    const priced = await quoteBag(lines, shipTo, insure.checked, ctx.signal);
    if (mine !== quoteSeq) return;
    totals.setAttribute("aria-busy", "false");
    fill(totals, summaryView(lines, priced, { insure: insure.checked }));
    if (priced.quote) placeOrder.textContent = `Place order · ${money(priced.quote.total)}`;
  }
  province.addEventListener("change", () => requote().catch(ignoreAbort));
  zip.addEventListener("change", () => requote().catch(ignoreAbort));
  insure.addEventListener("change", () => { address.saveInsure(insure.checked); requote().catch(ignoreAbort); });

  function clearErrors() {
    error.hidden = true;
    error.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid=true]")) el.setAttribute("aria-invalid", "false");
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  }

  function fieldError(id, message) {
    const el = form.querySelector(`#${id}`);
    el.setAttribute("aria-invalid", "true");
    form.querySelector(`#${id}-error`).textContent = message;
    return el;
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  /** What the shopper must fix before anything is sent; returns the first field to fix, or null. */
  function checkForm() {
    const missing = [
      [email, "Please enter your email address."],
      [line1, "Please enter your street address."],
      [city, "Please enter your city."],
    ].filter(([el]) => !el.value.trim()).map(([el, message]) => fieldError(el.id, message));
    if (!address.isZip(zip.value)) missing.push(fieldError("zip", "Please enter a 5-digit ZIP code."));
    return missing[0] ?? null;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return; // one request at a time: a double click is one order
    clearErrors();
    const invalid = checkForm();
    if (invalid) {
      invalid.focus();
      return;
    }
    const input = {
      lines: lines.map((l) => ({ variantId: l.variantId, quantity: l.quantity, engravingText: l.engravingText || null })),
      shipTo: { countryCode: "US", provinceCode: province.value, zip: zip.value.trim(), city: city.value.trim(), line1: line1.value.trim() },
      email: email.value.trim(),
      paymentToken: card.value,
      insure: insure.checked,
    };
    busy = true;
    placeOrder.disabled = true;
    const label = placeOrder.textContent;
    placeOrder.textContent = "Placing your order…";
    form.setAttribute("aria-busy", "true");
    try {
      // Not aborted when the shopper leaves the page: an order placed meanwhile must keep its token.
      const { payload } = await attempt.place(input);
      if (payload?.order && payload.orderToken) {
        orders.remember(payload.order.id, payload.orderToken);
        address.saveShipTo(input.shipTo);
        bag.clear();
        if (!ctx.signal.aborted) ctx.navigate(`/orders/${encodeURIComponent(payload.order.id)}`, { replace: true });
        return;
      }
      if (!payload) {
        showError(checkoutRequestFailed(null));
      } else {
        showUserErrors(payload.userErrors);
      }
    } catch (err) {
      if (err?.name === "AbortError") return;
      showError(checkoutRequestFailed(err));
    } finally {
      busy = false;
      placeOrder.disabled = false;
      placeOrder.textContent = label;
      form.setAttribute("aria-busy", "false");
    }
  });

  function showUserErrors(userErrors) {
    const general = [];
    let first = null;
    for (const e of userErrors) {
      const path = (e.field ?? []).join(".");
      if (e.code === "INVALID_INPUT" && FIELD_IDS[path]) {
        first ??= fieldError(FIELD_IDS[path], checkoutError(e, lines));
        continue;
      }
      if (e.code === "OUT_OF_STOCK" && e.field?.[0] === "lines") {
        const line = lines[Number(e.field[1])];
        if (line) bag.markSoldOut(line.key);
      }
      if (e.code === "INVALID_INPUT" && e.field?.[0] === "lines") {
        const line = lines[Number(e.field[1])];
        general.push(line ? `${line.title}: ${e.message}` : e.message);
        continue;
      }
      general.push(checkoutError(e, lines));
    }
    if (first && !general.length) general.push("Please check the highlighted details.");
    showError([...new Set(general)].join(" "));
    (first ?? error).focus?.();
  }

  await requote();
  ctx.complete();
}
