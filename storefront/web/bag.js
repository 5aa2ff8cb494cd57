// The shopping bag, kept in localStorage on this device. Prices here are what the shopper saw;
// the bag page and checkout always price it again on the server (cartQuote, placeOrder).

const KEY = "bezel.bag.v1";
const CHANGED = "bezel:bag";

function read() {
  try {
    const lines = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(lines) ? lines.filter((l) => l && typeof l.variantId === "string") : [];
  } catch {
    return [];
  }
}

function write(lines) {
  localStorage.setItem(KEY, JSON.stringify(lines));
  window.dispatchEvent(new CustomEvent(CHANGED));
}

/** A line is one variant with one engraving; the same ring engraved twice differently is two lines. */
function lineKey(variantId, engravingText) {
  return `${variantId}|${engravingText ?? ""}`;
}

export function lines() {
  return read();
}

/** {variantId, quantity, engravingText, title, price, variantTitle, handle, image} */
export function add(item) {
  const engravingText = item.engravingText?.trim() || null;
  const key = lineKey(item.variantId, engravingText);
  const all = read();
  const existing = all.find((l) => l.key === key);
  if (existing) existing.quantity += item.quantity ?? 1;
  else all.push({ ...item, key, engravingText, quantity: item.quantity ?? 1 });
  write(all);
}

export function remove(key) {
  write(read().filter((l) => l.key !== key));
}

export function setQuantity(key, quantity) {
  write(read().map((l) => (l.key === key ? { ...l, quantity } : l)));
}

/** Checkout found this line sold out: the bag says so until the stock is confirmed again. */
export function markSoldOut(key) {
  write(read().map((l) => (l.key === key ? { ...l, soldOut: true } : l)));
}

export function clear() {
  write([]);
}

export function count() {
  return read().reduce((n, l) => n + (l.quantity || 0), 0);
}

/** Calls `fn` whenever the bag changes, here or in another tab; returns the unsubscribe. */
export function onChange(fn) {
  const onStorage = (e) => { if (e.key === KEY) fn(); };
  window.addEventListener(CHANGED, fn);
  window.addEventListener("storage", onStorage);
  return () => {
    window.removeEventListener(CHANGED, fn);
    window.removeEventListener("storage", onStorage);
  };
}
