// The shopper's orders on this device: the order token is the only key to an order, so it is
// kept in localStorage (never in a URL) and sent only in POST bodies.

const PREFIX = "bezel.order.";

export function remember(id, token) {
  localStorage.setItem(PREFIX + id, JSON.stringify({ id, token, savedAt: Date.now() }));
}

/** The token for an order placed on this device, or null. */
export function tokenFor(id) {
  try {
    return JSON.parse(localStorage.getItem(PREFIX + id) ?? "null")?.token ?? null;
  } catch {
    return null;
  }
}
