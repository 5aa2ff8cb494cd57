// Live pages: keep one subscription open for as long as the page is, whatever happens to the connection.
//
// `follow()` subscribes (api.js `subscribe`: Apollo's multipart subscriptions by trusted-document id)
// and hands every message's data to the page. When the stream breaks, goes silent, or the gateway ends
// it with `reconnect: true` (a process stopping, a consumer too slow), it subscribes again after a
// jittered backoff (0.25 s, doubling to at most 30 s, never less than a Retry-After); the first message
// of every new subscription is the current state, so nothing missed while away stays missed. It stops
// for good on a refusal that asking again cannot fix (a 4xx other than 408/429, an operation the
// gateway does not know, an error with no data) and once the gateway ends a stream the page says is finished.
//
// The state is on the page for tests and for anyone looking: body[data-live] is "connecting", "live",
// "retrying", "done" (the stream ended as it should) or "off" (refused; the page stays as it is).

import { ApiError, subscribe } from "./api.js";

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 30000;
// Refusals asking again cannot fix: the request itself is wrong for this gateway (an id it does not
// trust, variables it rejects). Anything else (a process stopping, a vendor down for the first read, a
// cap on subscriptions, no connection) is worth another try, after the backoff or Retry-After.
const UNFIXABLE_CODES = new Set(["BAD_REQUEST", "BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED",
  "PERSISTED_QUERY_NOT_IN_LIST", "PERSISTED_QUERY_ID_REQUIRED", "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED", "PAYLOAD_TOO_LARGE", "NOT_IN_MANIFEST"]);

/**
 * Follows subscription `name` until `ctx.signal` aborts (the shopper left the page), calling
 * `onData(data)` with each message's data. When the gateway ends the stream, `finished(lastData)` says
 * whether that was its natural end (an order every system has: "done") or a cut to recover from.
 * `onState(state)` hears every change of body[data-live].
 */
export function follow(name, variables, { ctx, onData, finished = () => false, onState = () => {} }) {
  const body = document.body;
  const setState = (state) => {
    if (ctx.signal.aborted) return;
    body.dataset.live = state;
    onState(state);
  };
  ctx.onCleanup(() => { delete body.dataset.live; });

  (async () => {
    let failures = 0;
    let last = undefined; // the data of the last message
    for (;;) {
      setState(failures ? "retrying" : "connecting");
      let wait = null; // ms, when the gateway said how long
      try {
        for await (const payload of subscribe(name, variables, { signal: ctx.signal })) {
          const reason = refusal(payload);
          if (reason === "retry") {
            wait = retryAfterOf(payload);
            break;
          }
          if (reason === "stop") {
            console.warn(`${name}: refused`, payload.errors);
            return setState("off");
          }
          failures = 0;
          setState("live");
          last = payload.data;
          onData(last);
        }
        if (wait === null && last !== undefined && finished(last)) return setState("done");
      } catch (err) {
        if (err?.name === "AbortError" || ctx.signal.aborted) return;
        if (!(err instanceof ApiError) || !retryable(err)) {
          console.warn(`${name}: not following any more`, err);
          return setState("off");
        }
        if (err.retryAfter != null) wait = err.retryAfter * 1000;
      }
      // The stream broke, went silent, was ended with `reconnect`, or ended before the page had all it
      // needs: subscribe again, a little later.
      failures += 1;
      setState("retrying");
      if (!(await sleep(Math.max(wait ?? 0, backoff(failures)), ctx.signal))) return;
    }
  })();
}

/** "retry", "stop", or null for a message to paint. */
function refusal(payload) {
  const errors = payload?.errors ?? [];
  if (payload?.data && Object.values(payload.data).some((v) => v !== null)) return null;
  if (!errors.length) return null; // data: {field: null}: the page says what that means
  const ext = errors[0]?.extensions ?? {};
  return ext.reconnect || !UNFIXABLE_CODES.has(ext.code) ? "retry" : "stop";
}

function retryAfterOf(payload) {
  const s = payload?.errors?.[0]?.extensions?.retryAfter;
  return Number.isFinite(s) ? s * 1000 : null;
}

function retryable(err) {
  if (UNFIXABLE_CODES.has(err.code)) return false;
  return err.status === 0 || err.status === 408 || err.status === 429 || err.status >= 500;
}

/** Full jitter between 0.25 s and the doubled cap (30 s at most), so many pages do not come back at once. */
function backoff(failures) {
  const cap = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (failures - 1));
  return FIRST_DELAY_MS + Math.random() * (cap - FIRST_DELAY_MS);
}

/** Resolves true after `ms`, false at once if `signal` aborts first. */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => { signal.removeEventListener("abort", onAbort); resolve(true); }, ms);
    const onAbort = () => { clearTimeout(timer); resolve(false); };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
