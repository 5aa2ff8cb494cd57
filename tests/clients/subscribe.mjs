// A storefront's live product page with the subscription clients teams use: the storefront's ProductChanged
// (storefront/operations/ProductChanged.graphql) with one client's defaults, every message printed as it comes,
// one JSON line each ({client, version, data} or {client, version, error}), until the test stops the process.
//
//   node subscribe.mjs <client> <graphql url> <handle>                      the subscription as text
//   node subscribe.mjs <client> <graphql url> <handle> <manifest.json>      by id, as each client sends ids: the
//       id the manifest (Apollo's format, e.g. storefront/persisted-query-manifest.json) gives the operation's
//       name, through Apollo's persisted-query link, urql's persistedExchange (enableForSubscriptions), or in
//       graphql-sse's request as `extensions.persistedQuery` (graphql-ws: text only)
//
//   apollo3          Apollo Client 3, HttpLink: Apollo's multipart HTTP subscriptions
//   apollo4          Apollo Client 4, HttpLink: the same
//   graphql-sse      graphql-sse's client, distinct connections mode (Accept: text/event-stream)
//   graphql-ws       graphql-ws's client (graphql-transport-ws), over `ws`
//   urql-sse         urql, subscriptionExchange forwarding to graphql-sse's client
//   urql-multipart   urql, fetchExchange with fetchSubscriptions and Apollo's multipart Accept
//   urql-default     urql, fetchExchange with fetchSubscriptions and its own Accept (graphql-sse's answer)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { OPERATIONS } from "./lib.mjs";

const PRODUCT_CHANGED = readFileSync(`${OPERATIONS}ProductChanged.graphql`, "utf8");
// What Apollo Client sends for a subscription; urql's default ("text/event-stream, multipart/mixed") gets
// graphql-sse's answer instead (urql-default).
const MULTIPART = 'multipart/mixed;subscriptionSpec="1.0", application/json';

const [name, url, handle, manifestPath] = process.argv.slice(2);
const variables = { handle };
const manifest = manifestPath ? JSON.parse(readFileSync(manifestPath, "utf8")) : null;
const ids = new Map((manifest?.operations ?? []).map((op) => [op.name, op.id]));
// What graphql-sse's client sends: the text, or the id (Apollo's persisted-query extension) and no text.
const sseRequest = manifest
  ? { operationName: "ProductChanged", variables, extensions: { persistedQuery: { version: 1, sha256Hash: ids.get("ProductChanged") } } }
  : { query: PRODUCT_CHANGED, variables };

function print(version, message) {
  process.stdout.write(`${JSON.stringify({ client: name, version, ...message })}\n`);
}

function printResult(version, result) {
  const errors = result.errors ?? result.error?.graphQLErrors;
  if (errors?.length) print(version, { error: errors });
  else if (result.error) print(version, { error: String(result.error.message ?? result.error) });
  else print(version, { data: result.data });
}

/** Prints each message of an Observable ({subscribe({next, error, complete})}): Apollo Client's. */
function printAll(version, source) {
  source.subscribe({
    next: (result) => printResult(version, result),
    error: (err) => print(version, { error: String(err?.message ?? err) }),
    complete: () => print(version, { complete: true }),
  });
}

async function printIterated(version, messages) {
  try {
    for await (const result of messages) {
      printResult(version, result);
    }
    print(version, { complete: true });
  } catch (err) {
    print(version, { error: String(err?.message ?? (Array.isArray(err) ? JSON.stringify(err) : err)) });
  }
}

async function sseClient() {
  const { createClient } = await import("graphql-sse");
  return createClient({ url }); // distinct connections: one request per subscription
}

const clients = {
  async apollo3() {
    // Apollo Client 3 has no `exports` map: Node's ESM loader cannot import "@apollo/client/core"; CommonJS can.
    const require = createRequire(import.meta.url);
    const { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } = require("@apollo/client/core");
    const { createPersistedQueryLink } = require("@apollo/client/link/persisted-queries");
    const { version } = require("@apollo/client/package.json");
    const links = manifest ? [createPersistedQueryLink(await persistedIds())] : [];
    const link = ApolloLink.from([...links, new HttpLink({ uri: url })]);
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    printAll(version, client.subscribe({ query: gql(PRODUCT_CHANGED), variables }));
  },
  async apollo4() {
    const { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql, version } = await import("apollo4");
    const { PersistedQueryLink } = await import("apollo4/link/persisted-queries");
    const links = manifest ? [new PersistedQueryLink(await persistedIds())] : [];
    const link = ApolloLink.from([...links, new HttpLink({ uri: url })]);
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    printAll(version, client.subscribe({ query: gql(PRODUCT_CHANGED), variables }));
  },
  async "graphql-sse"() {
    const client = await sseClient();
    await printIterated(packageVersion("graphql-sse"), client.iterate(sseRequest));
  },
  async "graphql-ws"() {
    const { createClient } = await import("graphql-ws");
    const { WebSocket } = await import("ws");
    const client = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, lazy: true });
    await printIterated(packageVersion("graphql-ws"), client.iterate({ query: PRODUCT_CHANGED, variables }));
  },
  async "urql-sse"() {
    const { Client, cacheExchange, fetchExchange, gql, subscriptionExchange } = await import("@urql/core");
    const sse = await sseClient();
    const client = new Client({
      url,
      exchanges: [cacheExchange, fetchExchange, subscriptionExchange({
        forwardSubscription(request) {
          const sent = manifest ? { ...sseRequest, variables: request.variables } : { ...request, query: request.query ?? "" };
          return { subscribe: (sink) => ({ unsubscribe: sse.subscribe(sent, sink) }) };
        },
      })],
    });
    const version = packageVersion("@urql/core");
    client.subscription(gql(PRODUCT_CHANGED), variables).subscribe((result) => printResult(version, result));
  },
  "urql-multipart": () => urqlFetch({ accept: MULTIPART }),
  "urql-default": () => urqlFetch({}),
};

/** urql's fetchExchange carrying the subscription: with Apollo's multipart Accept, or with urql's own
 * ("text/event-stream, multipart/mixed"), which gets graphql-sse's answer and reads it with urql's reader. */
async function urqlFetch(headers) {
  const { Client, cacheExchange, fetchExchange, getOperationName, gql } = await import("@urql/core");
  const { persistedExchange } = await import("@urql/exchange-persisted");
  const persisted = manifest ? [persistedExchange({
    enforcePersistedQueries: true,
    enableForSubscriptions: true,
    generateHash: async (_query, document) => ids.get(getOperationName(document)),
  })] : [];
  const client = new Client({
    url,
    exchanges: [cacheExchange, ...persisted, fetchExchange],
    fetchSubscriptions: true,
    fetchOptions: { headers },
  });
  const version = packageVersion("@urql/core");
  client.subscription(gql(PRODUCT_CHANGED), variables).subscribe((result) => printResult(version, result));
}

/** Apollo's persisted-query ids, from the manifest by operation name (@apollo/persisted-query-lists). */
async function persistedIds() {
  const { generatePersistedQueryIdsFromManifest } = await import("@apollo/persisted-query-lists");
  return generatePersistedQueryIdsFromManifest({ loadManifest: async () => manifest });
}

function packageVersion(pkg) {
  return JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), "utf8")).version;
}

if (!clients[name] || !url || !handle) {
  process.stderr.write(`usage: node subscribe.mjs <${Object.keys(clients).join("|")}> <graphql url> <handle>\n`);
  process.exit(2);
}
await clients[name]();
