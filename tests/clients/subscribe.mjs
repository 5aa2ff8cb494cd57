// A storefront's live product page with the subscription clients teams use: the storefront's ProductChanged
// (storefront/operations/ProductChanged.graphql) with one client's defaults, every message printed as it comes,
// one JSON line each ({client, version, data} or {client, version, error}), until the test stops the process.
//
//   node subscribe.mjs <client> <graphql url> <handle>
//
//   apollo3          Apollo Client 3, HttpLink: Apollo's multipart HTTP subscriptions
//   apollo4          Apollo Client 4, HttpLink: the same
//   graphql-sse      graphql-sse's client, distinct connections mode (Accept: text/event-stream)
//   graphql-ws       graphql-ws's client (graphql-transport-ws), over `ws`
//   urql-sse         urql, subscriptionExchange forwarding to graphql-sse's client
//   urql-multipart   urql, fetchExchange with fetchSubscriptions and Apollo's multipart Accept
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { OPERATIONS } from "./lib.mjs";

const PRODUCT_CHANGED = readFileSync(`${OPERATIONS}ProductChanged.graphql`, "utf8");
// What Apollo Client sends for a subscription; urql's default ("text/event-stream, multipart/mixed") gets
// graphql-sse's answer instead.
const MULTIPART = 'multipart/mixed;subscriptionSpec="1.0", application/json';

const [name, url, handle] = process.argv.slice(2);
const variables = { handle };

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
    const { ApolloClient, HttpLink, InMemoryCache, gql } = require("@apollo/client/core");
    const { version } = require("@apollo/client/package.json");
    const client = new ApolloClient({ link: new HttpLink({ uri: url }), cache: new InMemoryCache() });
    printAll(version, client.subscribe({ query: gql(PRODUCT_CHANGED), variables }));
  },
  async apollo4() {
    const { ApolloClient, HttpLink, InMemoryCache, gql, version } = await import("apollo4");
    const client = new ApolloClient({ link: new HttpLink({ uri: url }), cache: new InMemoryCache() });
    printAll(version, client.subscribe({ query: gql(PRODUCT_CHANGED), variables }));
  },
  async "graphql-sse"() {
    const client = await sseClient();
    await printIterated(packageVersion("graphql-sse"), client.iterate({ query: PRODUCT_CHANGED, variables }));
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
          return { subscribe: (sink) => ({ unsubscribe: sse.subscribe({ ...request, query: request.query ?? "" }, sink) }) };
        },
      })],
    });
    const version = packageVersion("@urql/core");
    client.subscription(gql(PRODUCT_CHANGED), variables).subscribe((result) => printResult(version, result));
  },
  async "urql-multipart"() {
    const { Client, cacheExchange, fetchExchange, gql } = await import("@urql/core");
    const client = new Client({
      url,
      exchanges: [cacheExchange, fetchExchange],
      fetchSubscriptions: true,
      fetchOptions: { headers: { accept: MULTIPART } },
    });
    const version = packageVersion("@urql/core");
    client.subscription(gql(PRODUCT_CHANGED), variables).subscribe((result) => printResult(version, result));
  },
};

function packageVersion(pkg) {
  return JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), "utf8")).version;
}

if (!clients[name] || !url || !handle) {
  process.stderr.write(`usage: node subscribe.mjs <${Object.keys(clients).join("|")}> <graphql url> <handle>\n`);
  process.exit(2);
}
await clients[name]();
