// The product page's estimates: tax and insured delivery to the shopper's address, and financing.
// Each paints one element from a "part": {value, errors, pending}, where `value` is the field's
// data (null when it failed) and `errors` the errors at its path.

import { fill, h } from "../dom.js";
import { cents, money, percent, price, staleNote } from "../format.js";
import { UNAVAILABLE } from "../messages.js";
import { stateName } from "../address.js";

function show(el, state, ...children) {
  el.dataset.state = state; // pending | ready | unavailable | invalid
  el.setAttribute("aria-busy", state === "pending" ? "true" : "false");
  return fill(el, ...children);
}

function row(label, value, ...notes) {
  return [
    h("span", { class: "estimate__label" }, label),
    h("span", { class: "estimate__value" }, value),
    ...notes.filter(Boolean).map((n) => h("span", { class: "estimate__note" }, n)),
  ];
}

function badZip(errors) {
  return errors.some((e) => e.extensions?.code === "BAD_USER_INPUT" && String(e.extensions?.field ?? "").includes("zip"));
}

export function paintTax(el, part, shipTo) {
  if (part.pending) return show(el, "pending", ...row("Estimated tax", "Estimating…"));
  const tax = part.value;
  const where = `${stateName(shipTo.provinceCode)} ${shipTo.zip}`;
  if (tax) {
    const none = cents(tax.amountToCollect.amount) === 0;
    return show(el, "ready", ...row("Estimated tax",
      none ? "None" : money(tax.amountToCollect),
      none ? `No sales tax on delivery to ${where}` : `${percent(tax.rate)} on delivery to ${where}`,
      staleNote("tax estimate", tax.freshness)));
  }
  if (badZip(part.errors)) {
    return show(el, "invalid", ...row("Estimated tax", "—",
      `${shipTo.zip} doesn't look like a ${stateName(shipTo.provinceCode)} ZIP code. Please check it.`));
  }
  return show(el, "unavailable", ...row("Estimated tax", "", UNAVAILABLE.tax));
}

export function paintInsurance(el, part) {
  if (part.pending) return show(el, "pending", ...row("Insured delivery", "Getting a quote…"));
  const quote = part.value;
  if (quote) {
    return show(el, "ready", ...row("Insured delivery", money(quote.premium),
      `Fully insured for its value by ${quote.provider}, door to door`,
      staleNote("insurance quote", quote.freshness)));
  }
  return show(el, "unavailable", ...row("Insured delivery", "", UNAVAILABLE.insurance));
}

/** The cheapest monthly offer, or null. */
export function cheapestMonthly(offers) {
  const monthly = offers.filter((o) => (o.interval ? o.interval === "MONTH" : /month/i.test(o.term)));
  return monthly.reduce((best, o) => (!best || cents(o.installmentAmount.amount) < cents(best.installmentAmount.amount) ? o : best), null);
}

export function paintFinancing(el, part) {
  if (part.pending) return show(el, "pending", ...row("Pay over time", "Checking plans…"));
  const financing = part.value;
  if (!financing) return show(el, "unavailable", ...row("Pay over time", "", UNAVAILABLE.financing));
  const stale = staleNote("financing offers", financing.freshness);
  const best = cheapestMonthly(financing.offers);
  if (best) {
    return show(el, "ready", ...row("Pay over time", `As low as ${price(best.installmentAmount)}/mo`, best.message, stale));
  }
  if (financing.offers.length) {
    return show(el, "ready", ...row("Pay over time", financing.offers[0].message, stale));
  }
  return show(el, "ready", ...row("Pay over time", "", "Payment plans aren't offered at this price.", stale));
}
