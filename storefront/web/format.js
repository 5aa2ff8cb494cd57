// How money, rates and ages read in the shop.

const currencies = new Map();

function formatter(currencyCode) {
  if (!currencies.has(currencyCode)) {
    currencies.set(currencyCode, new Intl.NumberFormat("en-US", { style: "currency", currency: currencyCode }));
  }
  return currencies.get(currencyCode);
}

/** {amount: "3250.00", currencyCode: "USD"} -> "$3,250.00" (amounts are decimal strings). */
export function money(m) {
  if (!m) return "";
  return formatter(m.currencyCode || "USD").format(Number(m.amount));
}

/** A price without cents when it has none: "$3,250", "$687.43". */
export function price(m) {
  if (!m) return "";
  const whole = /^-?\d+(\.0+)?$/.test(m.amount);
  const f = new Intl.NumberFormat("en-US", {
    style: "currency", currency: m.currencyCode || "USD", minimumFractionDigits: whole ? 0 : 2,
  });
  return f.format(Number(m.amount));
}

/** "$3,250 – $15,000", or one price when min and max agree. */
export function priceRange(range) {
  if (!range) return "";
  const { minVariantPrice: min, maxVariantPrice: max } = range;
  return min.amount === max.amount ? price(min) : `${price(min)} – ${price(max)}`;
}

/** Decimal string -> integer cents, without floating point: "5000.5" -> 500050. */
export function cents(amount) {
  const [whole, frac = ""] = String(amount).split(".");
  const sign = whole.startsWith("-") ? -1 : 1;
  return sign * (Math.abs(Number.parseInt(whole, 10) || 0) * 100 + Number.parseInt((frac + "00").slice(0, 2), 10));
}

/** Integer cents -> Money. */
export function fromCents(value, currencyCode = "USD") {
  const sign = value < 0 ? "-" : "";
  const abs = Math.abs(value);
  return { amount: `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`, currencyCode };
}

/** "0.08875" -> "8.875%". */
export function percent(rate) {
  const value = Number(rate) * 100;
  return `${Number.isFinite(value) ? Number(value.toFixed(3)) : rate}%`;
}

/** An age in milliseconds, as a shopper would say it: "a few seconds ago", "4 min ago", "2 hours ago". */
export function ago(ms) {
  const s = Math.max(0, Math.round(Number(ms) / 1000));
  if (s < 45) return "a few seconds ago";
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min ago`;
  const hours = Math.round(min / 60);
  if (hours < 24) return hours === 1 ? "an hour ago" : `${hours} hours ago`;
  const days = Math.round(hours / 24);
  return days === 1 ? "a day ago" : `${days} days ago`;
}

/** A note for a vendor-backed answer that is an old one: "tax estimate from 4 min ago". */
export function staleNote(what, freshness) {
  return freshness?.source === "STALE" ? `${what} from ${ago(freshness.ageMs)}` : null;
}

/** "1 piece", "2 pieces". */
export function count(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
