// Everything a shopper reads when something did not work, in the shop's words (never the API's).

import { h } from "./dom.js";

/** What each vendor-backed part of a page says when its vendor could not answer. */
export const UNAVAILABLE = {
  stock: "We couldn't check stock just now. We'll confirm it when you check out.",
  tax: "Tax will be calculated at checkout.",
  insurance: "Shipping insurance will be quoted at checkout.",
  financing: "Monthly payment plans can't be shown right now. Please check back shortly.",
  engraving: "Engraving preview is unavailable right now — you can still add engraving text, we will show it on your order.",
};

/** The first error among `errors` with this extensions.code, or null. */
export function errorWithCode(errors, code) {
  return errors.find((e) => e?.extensions?.code === code) ?? null;
}

/** Why a request got no answer, for a page: an ApiError or any other failure. */
export function requestFailed(err) {
  const status = err?.status ?? 0;
  const code = err?.code;
  if (status === 429 || code === "RATE_LIMITED") {
    const wait = err.retryAfter ? ` in ${err.retryAfter > 90 ? `${Math.ceil(err.retryAfter / 60)} minutes` : "a moment"}` : " in a moment";
    return `We're getting a lot of requests from you. Please try again${wait}.`;
  }
  if (status === 503 || code === "OVERLOADED") return "We're very busy right now. Please try again in a moment.";
  if (status === 408) return "That took too long. Please try again.";
  if (status === 0 && !code) return "We can't reach the shop right now. Please check your connection and try again.";
  if (code === "NOT_IN_MANIFEST" || code?.startsWith?.("PERSISTED_QUERY")) {
    return "This page is out of date. Please reload it.";
  }
  return "Something went wrong on our side. Please try again in a moment.";
}

/** A whole page that could not be shown. */
export function pageFailed(err) {
  return h("section", { class: "notice notice--page", role: "alert" },
    h("h1", {}, "We're sorry"),
    h("p", {}, requestFailed(err)),
    h("p", {}, h("a", { href: location.pathname + location.search, onclick: (e) => { e.preventDefault(); location.reload(); } }, "Try again")),
  );
}

/**
 * One checkout userError in the shop's words. `lines` are the bag lines the order was placed with
 * (OUT_OF_STOCK names its line by index in `field`).
 */
export function checkoutError(userError, lines) {
  const field = userError.field ?? [];
  switch (userError.code) {
    case "PAYMENT_DECLINED":
      return "Your card was declined. Please try another card.";
    case "OUT_OF_STOCK": {
      const line = field[0] === "lines" ? lines[Number(field[1])] : null;
      return `Sorry — ${line ? line.title : "a piece in your bag"} sold out while it was in your bag.`;
    }
    case "RATE_LIMITED":
      return "Too many attempts. Please wait a few minutes and try again.";
    case "CHECKOUT_UNAVAILABLE":
      return "We couldn't place your order right now. You have not been charged. Please try again.";
    case "IDEMPOTENCY_KEY_IN_USE":
      return "Your order is still being placed. Please wait a moment.";
    case "INVALID_INPUT":
      return userError.message; // Bezel words these for shoppers ("Enter a valid email address.")
    default:
      return "We couldn't place your order. Please check your details and try again.";
  }
}

/** A checkout request that got no answer at all: nothing says whether an order was placed. */
export function checkoutRequestFailed(err) {
  const status = err?.status ?? 0;
  if (status === 429 || err?.code === "RATE_LIMITED") return "Too many attempts. Please wait a few minutes and try again.";
  if (status === 503) return "We're very busy right now. You have not been charged. Please try again in a moment.";
  if (status === 413 || status === 400) return "We couldn't read your order. Please check your details and try again.";
  return "We couldn't confirm your order just now. Please try again — you will not be charged twice.";
}
