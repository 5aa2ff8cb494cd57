// The GraphQL client: every operation goes to the gateway by its trusted-document id, never as text.
//
// The ids come from the manifest the gateway serves (Apollo's persisted-query-manifest format),
// built from storefront/operations/*.graphql: one operation per file, named like the file.
// An answer is either one JSON result or, for operations with @defer, a multipart/mixed stream of
// parts (read with the vendored `meros`), merged into one result by IncrementalResult.
// Subscriptions (`subscribe`) come the way Apollo Client asks for them: one POST whose answer is a
// multipart/mixed stream of messages and heartbeats (Apollo's multipart subscriptions), read with meros too.
// The public operations (PUBLIC) go by GET, their variables in the URL, so an edge may cache their
// answers; everything else by POST, so nothing of the shopper's (an address, an engraving text, an
// order token) is ever in a URL, a CDN's cache key or an access log.

import { meros } from "./vendor/meros/index.mjs";
import { IncrementalResult } from "./incremental.js";

const ENDPOINT = "/graphql";
const MANIFEST_URL = "/storefront/manifest.json";
// Operations whose variables say nothing about the shopper (ProductPublic: a handle): sent by GET.
const PUBLIC = new Set(["ProductPublic"]);
// What Apollo Client sends: a streamed answer if the operation defers anything, else plain JSON.
const ACCEPT_INCREMENTAL = "multipart/mixed; deferSpec=20220824, application/json";
const ACCEPT_JSON = "application/json";
// What Apollo Client sends for a subscription (its multipart HTTP subscriptions, with heartbeats).
const ACCEPT_SUBSCRIPTION = 'multipart/mixed;subscriptionSpec="1.0", application/json';
// The gateway sends a heartbeat every 5 s ([live] heartbeat_s); this long without one, the stream is dead
// even if the connection says nothing (a sleeping laptop, a proxy that dropped it).
const SILENCE_MS = 20000;

/** A request that got no usable GraphQL answer: no connection, an HTTP error, a missing id. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = null, retryAfter = null, cause } = {}) {
    super(message, { cause });
    this.name = "ApiError";
    this.status = status; // 0: no HTTP answer at all
    this.code = code; // the error's extensions.code when the gateway sent one
    this.retryAfter = retryAfter; // seconds, from Retry-After
  }
}

let manifest = null;

/** name -> documentId, loaded once (and again only if loading failed). */
export function loadManifest() {
  manifest ??= fetch(MANIFEST_URL, { headers: { accept: "application/json" } })
    .then(async (res) => {
      if (!res.ok) throw new ApiError(`The manifest answered ${res.status}`, { status: res.status });
      return idsByName(await res.json());
    })
    .catch((err) => {
      manifest = null;
      throw err instanceof ApiError ? err : new ApiError("The manifest could not be loaded", { cause: err });
    });
  return manifest;
}

function idsByName(body) {
  const ids = new Map();
  if (Array.isArray(body?.operations)) {
    for (const op of body.operations) ids.set(op.name, op.id);
  } else if (body && typeof body === "object") {
    // The plain {"<id>": "<document>"} form (GraphQL Codegen, Relay): read the name from the text.
    for (const [id, text] of Object.entries(body)) {
      const name = /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(String(text))?.[1];
      if (name) ids.set(name, id);
    }
  }
  return ids;
}

/**
 * Runs an operation and yields {result, touched, done} after every part of its answer: `result` is
 * the IncrementalResult merged so far (the same object each time), `touched` the labels of the
 * deferred fragments that arrived in that part. With `incremental: false` the gateway is asked for
 * one answer (Accept: application/json), which comes as a single part.
 * If a stream breaks after its first part, the last yield has `interrupted: true` and whatever
 * was still pending stays missing; before the first part, an ApiError is thrown.
 * `mark` names a performance mark set right before the request is sent (after the manifest is in).
 */
export async function* stream(name, variables = {}, { signal, incremental = true, mark = null } = {}) {
  const res = await send(name, variables, { signal, accept: incremental ? ACCEPT_INCREMENTAL : ACCEPT_JSON, mark });
  const result = new IncrementalResult();
  const parts = await meros(res); // the Response itself when the answer is not multipart
  if (parts instanceof Response) {
    result.apply(await readJson(parts));
    yield { result, touched: new Set(), done: true };
    return;
  }
  try {
    for await (const part of parts) {
      const touched = result.apply(partBody(part));
      yield { result, touched, done: !result.hasNext };
      if (!result.hasNext) return;
    }
  } catch (err) {
    if (err?.name === "AbortError" || signal?.aborted) throw err;
    if (!result.started) throw new ApiError("The answer was cut off", { cause: err });
  }
  if (!result.started) throw new ApiError("The answer was empty");
  if (result.hasNext) yield { result, touched: result.abandon(), done: true, interrupted: true };
}

/**
 * Subscribes to a subscription operation by its trusted-document id and yields each message's payload,
 * {data, errors, extensions}, as it arrives; heartbeats are read and not yielded. Returns when the gateway
 * ends the stream. Throws an ApiError when there is no stream (no connection, an HTTP error: its status,
 * code and Retry-After), when it breaks, or when nothing at all came for `silenceMs` (code
 * "STREAM_SILENT"); an AbortError once `signal` aborts. An error the gateway sends on an open stream (a
 * transport error, or SUBSCRIPTION_ENDED with `reconnect: true`) is yielded as a payload with `errors`.
 */
export async function* subscribe(name, variables = {}, { signal, silenceMs = SILENCE_MS } = {}) {
  const stop = new AbortController();
  let silent = false;
  let watchdog = null;
  const listen = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => { silent = true; stop.abort(); }, silenceMs);
  };
  const onAbort = () => stop.abort();
  signal?.throwIfAborted();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    listen();
    const res = await send(name, variables, { signal: stop.signal, accept: ACCEPT_SUBSCRIPTION });
    const parts = await meros(res);
    if (parts instanceof Response) { // one JSON answer: a request error, or a gateway without subscriptions
      yield await readJson(parts);
      return;
    }
    for await (const part of parts) {
      listen();
      const body = partBody(part);
      if (body.payload !== undefined || body.errors) yield body.payload ?? { errors: body.errors };
      // else {}: a heartbeat
    }
  } catch (err) {
    if (signal?.aborted) throw err;
    if (silent) throw new ApiError(`No message nor heartbeat for ${silenceMs / 1000} s`, { code: "STREAM_SILENT" });
    if (err instanceof ApiError) throw err;
    throw new ApiError("The stream broke", { cause: err });
  } finally {
    clearTimeout(watchdog);
    signal?.removeEventListener("abort", onAbort);
    stop.abort(); // a consumer that stopped reading early closes the connection
  }
}

/** For promises nobody awaits (event handlers): leaving the page aborts them, which is no error. */
export function ignoreAbort(err) {
  if (err?.name !== "AbortError") throw err;
}

/** Runs an operation and resolves with its whole result: {data, errors, extensions}. */
export async function request(name, variables = {}, { signal } = {}) {
  let last = null;
  for await (const step of stream(name, variables, { signal, incremental: false })) last = step.result;
  return last;
}

/** Sends an operation by its id: a public one by GET, anything else by POST. */
async function send(name, variables, { signal, accept, mark = null }) {
  const ids = await loadManifest();
  const documentId = ids.get(name);
  if (!documentId) throw new ApiError(`${name} is not in the gateway's manifest`, { code: "NOT_IN_MANIFEST" });
  const params = { documentId, operationName: name, variables };
  const byGet = PUBLIC.has(name);
  const url = byGet ? `${ENDPOINT}?${new URLSearchParams({ ...params, variables: JSON.stringify(variables) })}` : ENDPOINT;
  let res;
  try {
    if (mark) performance.mark(mark);
    res = await fetch(url, byGet
      ? { method: "GET", headers: { accept }, credentials: "same-origin", signal }
      : { method: "POST", headers: { "content-type": "application/json", accept }, body: JSON.stringify(params),
          credentials: "same-origin", signal });
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new ApiError("No answer from the gateway", { cause: err });
  }
  if (!res.ok) throw await httpError(res);
  return res;
}

async function httpError(res) {
  let code = null;
  try {
    code = (await res.json())?.errors?.[0]?.extensions?.code ?? null;
  } catch {
    // a bare answer (408, 431, a proxy's page): the status says enough
  }
  const retryAfter = Number.parseInt(res.headers.get("retry-after") ?? "", 10);
  return new ApiError(`The gateway answered ${res.status}`, {
    status: res.status,
    code,
    retryAfter: Number.isFinite(retryAfter) ? retryAfter : null,
  });
}

async function readJson(res) {
  try {
    return await res.json();
  } catch (err) {
    throw new ApiError("The answer was not JSON", { status: res.status, cause: err });
  }
}

function partBody(part) {
  if (part.json) return part.body;
  try {
    return JSON.parse(String(part.body)); // a part without a JSON content type
  } catch {
    return {};
  }
}
