// The bag priced by the server (cartQuote): subtotal, tax, insured delivery, total, financing.
// Shared by the bag and checkout pages.

import { request } from "./api.js";
import { h } from "./dom.js";
import { cents, fromCents, money, price, staleNote } from "./format.js";
import { UNAVAILABLE } from "./messages.js";
import { cheapestMonthly } from "./product/quotes.js";

/**
 * Prices the bag's lines. Resolves with {quote, errors, failed, unknownLines, error}:
 * `quote` is cartQuote (null when it could not be priced), `unknownLines` the indexes of lines the
 * catalog no longer has, `error` the ApiError when no answer came.
 */
export async function quoteBag(lines, shipTo, insure, signal) {
  const input = {
    lines: lines.map((l) => ({ variantId: l.variantId, quantity: l.quantity })),
    shipTo,
    insure,
  };
  try {
    const { data, errors } = await request("CartQuote", { input }, { signal });
    const unknownLines = new Set();
    for (const e of errors) {
      const m = /lines\[(\d+)\]\.variantId/.exec(String(e.extensions?.field ?? ""));
      if (m) unknownLines.add(Number(m[1]));
    }
    return { quote: data?.cartQuote ?? null, errors, failed: !data?.cartQuote, unknownLines, error: null };
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    return { quote: null, errors: [], failed: true, unknownLines: new Set(), error: err };
  }
}

/** What is wrong with a line for checkout, in the shop's words, or "" (from the quote's stock). */
export function lineProblem(quoteLine) {
  const availability = quoteLine?.variant?.availability;
  if (!availability) return "";
  if (availability.status === "OUT_OF_STOCK") return "Sold out — please remove it from your bag to check out.";
  const left = availability.quantityAvailable;
  if (left != null && availability.confirmed !== false && quoteLine.quantity > left) {
    return `Only ${left} left — please lower the quantity.`;
  }
  return "";
}

function row(label, value, note, testid) {
  return h("div", { class: "summary__row", "data-testid": testid },
    h("dt", {}, label),
    h("dd", {}, value, note ? h("span", { class: "summary__note" }, note) : null));
}

/** The totals block. `priced` is quoteBag's answer, `lines` the bag's lines. */
export function summaryView(lines, priced, { insure }) {
  const { quote } = priced;
  if (!quote) {
    const subtotal = fromCents(lines.reduce((sum, l) => sum + cents(l.price.amount) * l.quantity, 0), lines[0]?.price.currencyCode);
    return h("dl", { class: "summary" },
      row("Subtotal", money(subtotal), "As shown when you added each piece; checkout confirms the prices."),
      row("Total", h("span", { "data-testid": "bag-total", "data-state": "unpriced" }, money(subtotal)),
        "Tax and insured delivery will be calculated at checkout."));
  }
  const missing = new Set(quote.missing);
  const tax = quote.tax
    ? row("Estimated tax", money(quote.tax.amountToCollect), staleNote("tax estimate", quote.tax.freshness), "bag-tax")
    : row("Estimated tax", "", UNAVAILABLE.tax, "bag-tax");
  let insurance = null;
  if (insure) {
    insurance = quote.insurance
      ? row("Insured delivery", money(quote.insurance.premium), staleNote("insurance quote", quote.insurance.freshness), "bag-insurance")
      : row("Insured delivery", "", UNAVAILABLE.insurance, "bag-insurance");
  }
  const best = quote.financing ? cheapestMonthly(quote.financing.offers) : null;
  const totalLabel = missing.has("tax") || !quote.tax ? "Total before tax" : "Total";
  return h("dl", { class: "summary" },
    row("Subtotal", money(quote.subtotal)),
    h("div", { class: "summary__row" }, h("dt", {}, "Delivery"), h("dd", {}, "Complimentary")),
    tax,
    insurance,
    row(totalLabel, h("span", { "data-testid": "bag-total", "data-state": quote.complete ? "complete" : "partial" }, money(quote.total)),
      best ? `or as low as ${price(best.installmentAmount)}/mo — ${best.message}` : null));
}
