// The stock line of the product page: what a variant's availability means to a shopper.

import { ago } from "../format.js";
import { UNAVAILABLE } from "../messages.js";

/**
 * {text, tone, buyable} for a variant's availability; `pending` while the stock part is still
 * on its way. tone: "pending" | "ok" | "low" | "out" | "unknown".
 */
export function describeStock(availability, { pending = false } = {}) {
  if (!availability) {
    return pending
      ? { text: "Checking stock…", tone: "pending", buyable: true }
      : { text: UNAVAILABLE.stock, tone: "unknown", buyable: true };
  }
  const { status, quantityAvailable: qty, confirmed, freshness } = availability;
  const checked = freshness?.source === "STALE" ? ` (checked ${ago(freshness.ageMs)})` : "";
  if (status === "OUT_OF_STOCK") return { text: `Sold out${checked}`, tone: "out", buyable: false };
  if (status === "UNKNOWN") return { text: UNAVAILABLE.stock, tone: "unknown", buyable: true };
  if (qty === 1) return { text: `Only 1 left${checked}`, tone: "low", buyable: true };
  if (status === "LOW_STOCK") {
    return qty != null && confirmed !== false
      ? { text: `Only ${qty} left${checked}`, tone: "low", buyable: true }
      : { text: `Only a few left — we'll confirm yours at checkout${checked}`, tone: "low", buyable: true };
  }
  return { text: `In stock, ready to ship${checked}`, tone: "ok", buyable: true };
}
