// One order attempt = one idempotency key (made when the checkout page loads), so that resending,
// a double click or a lost answer never places a second order.
//
// The key is reused for every submit of the page, except after an answer the gateway stores as
// final for that key (PAYMENT_DECLINED, OUT_OF_STOCK): the shopper's next try (another card) is a
// new attempt with a new key. If a request got no answer, nobody knows whether it placed the order:
// before sending different details, the first details are sent again with the same key, which
// replays the stored answer (the order, if there was one) instead of placing a second order.

import { request } from "../api.js";

const FINAL_FOR_KEY = new Set(["PAYMENT_DECLINED", "OUT_OF_STOCK"]);
// Answers that mean the request never ran (rate limit, overload, refused document): nothing placed.
const REFUSED_BEFORE_RUNNING = new Set([400, 403, 404, 405, 413, 429, 431, 503]);
const IN_USE_RETRIES = 5;
const IN_USE_WAIT_MS = 1500;

/** A UUID v4; crypto.randomUUID exists only in secure contexts (https, localhost). */
function newKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function checkoutAttempt() {
  let key = newKey();
  let last = null; // {key, input, text}: the last request sent
  let unknownOutcome = false;

  async function send(input, signal) {
    const text = JSON.stringify(input);
    last = { key, input, text };
    unknownOutcome = true;
    for (let attempt = 0; ; attempt += 1) {
      let result;
      try {
        result = await request("PlaceOrder", { input: { ...input, idempotencyKey: key } }, { signal });
      } catch (err) {
        if (REFUSED_BEFORE_RUNNING.has(err?.status)) unknownOutcome = false;
        throw err;
      }
      const payload = result.data?.placeOrder;
      if (!payload) return { payload: null, errors: result.errors }; // outcome stays unknown
      const codes = payload.userErrors.map((e) => e.code);
      if (codes.includes("IDEMPOTENCY_KEY_IN_USE") && attempt < IN_USE_RETRIES) {
        await wait(IN_USE_WAIT_MS, signal); // the first request with this key is still running
        continue;
      }
      unknownOutcome = codes.includes("IDEMPOTENCY_KEY_IN_USE");
      if (codes.some((c) => FINAL_FOR_KEY.has(c))) key = newKey();
      return { payload, errors: result.errors };
    }
  }

  return {
    get key() {
      return key;
    },
    /** Places the order for `input` (PlaceOrderInput without the key): {payload, errors}. */
    async place(input, signal) {
      if (unknownOutcome && last && last.key === key && last.text !== JSON.stringify(input)) {
        const earlier = await send(last.input, signal);
        if (earlier.payload?.order) return earlier; // the first try had placed it
        if (!earlier.payload) return earlier;
      }
      const answer = await send(input, signal);
      if (answer.payload?.userErrors.some((e) => e.code === "IDEMPOTENCY_KEY_REUSED")) {
        key = newKey(); // should not happen (see above); a fresh attempt is safe to offer
      }
      return answer;
    },
  };
}

function wait(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("Aborted", "AbortError"));
    }, { once: true });
  });
}
