// What the client scripts share: the storefront's product page and its variables, a fetch that keeps what the
// client sent, how the page is followed to its last part, and the one JSON line each script prints (read by
// test_clients.py).
import { readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { format } from "node:util";

export const OPERATIONS = fileURLToPath(new URL("../../storefront/operations/", import.meta.url));
// The storefront's own page, as committed: five `@defer` fragments (stock, tax, insurance, financing, engraving).
export const PRODUCT_PAGE = readFileSync(`${OPERATIONS}ProductPage.graphql`, "utf8");
// Its variables: $PAGE_VARIABLES (JSON) when set (a test asking for a page no earlier one left in the gateway's
// cache), else the README's ring for a New York address.
export const VARIABLES = process.env.PAGE_VARIABLES ? JSON.parse(process.env.PAGE_VARIABLES) : {
  handle: "aurelia-solitaire-ring",
  shipTo: { countryCode: "US", provinceCode: "NY", zip: "10001" },
  engraving: { text: "Always", font: "script", placement: "INSIDE_BAND" },
};
export const PARTS = ["stock", "tax", "insurance", "financing", "engraving"];

/** A fetch for the client that records each request as the client made it (method, URL, the headers it set,
 * its body, or a GET's parameters) and what came back (status, content type). */
export function recordingFetch() {
  const sent = [];
  const record = async (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url);
    const entry = {
      method: (init.method ?? "GET").toUpperCase(),
      path: url.pathname,
      headers: Object.fromEntries(new Headers(init.headers ?? {}).entries()),
    };
    if (typeof init.body === "string") {
      entry.body = JSON.parse(init.body);
    } else if (url.search) {
      entry.params = Object.fromEntries([...url.searchParams].map(([k, v]) => [k, k === "query" ? v : jsonOr(v)]));
    }
    sent.push(entry);
    const response = await fetch(input, init);
    entry.status = response.status;
    entry.contentType = response.headers.get("content-type");
    return response;
  };
  return { fetch: record, sent };
}

function jsonOr(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Which deferred parts of the page `data` holds: stock only once every variant has its availability. */
export function partsIn(data) {
  const product = data?.product;
  if (!product) return [];
  const present = {
    stock: Array.isArray(product.variants) && product.variants.length > 0
      && product.variants.every((v) => v.availability != null),
    tax: product.taxEstimate !== undefined,
    insurance: product.shippingInsurance !== undefined,
    financing: product.financing !== undefined,
    engraving: product.engravingPreview !== undefined,
  };
  return PARTS.filter((part) => present[part]);
}

/** The script's answer on stdout, one JSON document; then exit (a client may hold sockets or timers open). */
export function report(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

/** The first link of an Apollo Client chain (this version's ApolloLink and Observable), keeping what each raw
 * result the server sent held (a whole answer, or one part of a stream: whether more follow, the labels of the
 * deferred parts in it, the errors in it anywhere); `done` settles at the last part, or when the request fails. */
export function partsLink(ApolloLink, Observable) {
  const parts = [];
  let finished;
  const done = new Promise((resolve) => { finished = resolve; });
  const link = new ApolloLink((operation, forward) => new Observable((observer) => {
    const subscription = forward(operation).subscribe({
      next(result) {
        parts.push({
          hasNext: result.hasNext ?? null,
          labels: counted((result.incremental ?? []).map((item) => item.label ?? "")),
          pending: (result.pending ?? []).map((item) => item.label ?? null),
          errors: messages([result, ...(result.incremental ?? []), ...(result.completed ?? [])]
            .flatMap((r) => r.errors ?? [])),
        });
        if (result.hasNext !== true) finished();
        observer.next(result);
      },
      error(error) {
        finished();
        observer.error(error);
      },
      complete() {
        finished();
        observer.complete();
      },
    });
    return () => subscription.unsubscribe();
  }));
  return { link, parts, done };
}

/** What the client says on console.error and console.warn while the script runs (Apollo Client says there what
 * it could not write to its cache: "Missing field ..."), each message once with how often, instead of on stderr. */
export function consoleMessages() {
  const said = {};
  for (const level of ["error", "warn"]) {
    console[level] = (...args) => {
      const message = `${level}: ${format(...args)}`.replace(/\s+/g, " ").slice(0, 100);
      said[message] = (said[message] ?? 0) + 1;
    };
  }
  return said;
}

function counted(labels) {
  const counts = {};
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

/** `client.watchQuery(...)` followed until `done` (the link saw the last part) and the client's own last emission
 * after it, or until the client fails: each emission as the page would see it, the last one's data, what the
 * server sent as errors in any part, and what failed (the client's error, if it ended with one). */
export async function watchPage(client, query, variables, { parts, done }) {
  const emissions = [];
  let data = null;
  let failure = null;
  await new Promise((resolve) => {
    const timer = setTimeout(() => { failure = "no last part within 20 s"; resolve(); }, 20_000);
    const stop = () => { clearTimeout(timer); resolve(); };
    client.watchQuery({ query, variables }).subscribe({
      next(result) {
        data = result.data ?? null;
        emissions.push({
          loading: result.loading,
          networkStatus: result.networkStatus,
          dataState: result.dataState ?? null,
          parts: partsIn(result.data),
          title: result.data?.product?.title ?? null,
          error: result.error ? String(result.error) : null,
        });
      },
      error(error) {
        failure = String(error);
        stop();
      },
    });
    done.then(() => setTimeout(stop, 100));
  });
  failure ??= emissions.at(-1)?.error ?? null;
  return { parts, emissions, data, errors: parts.flatMap((part) => part.errors), failure };
}

function messages(errors) {
  return (errors ?? []).map((e) => ({ message: e.message, code: e.extensions?.code ?? null, path: e.path ?? null }));
}

/** The documents GraphQL Codegen's client preset wrote into `dir` (its graphql.ts, compiled on the fly as a
 * bundler would): each carries its persisted-document id in `__meta__.hash`. */
export async function codegenDocuments(dir) {
  const { createJiti } = await import("jiti");
  return createJiti(import.meta.url).import(resolvePath(dir, "graphql.ts"));
}
