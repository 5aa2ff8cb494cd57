// urql 6 with its defaults (`cacheExchange` adds `__typename` to every selection set; `fetchExchange` reads
// multipart answers by itself), following the storefront's ProductPage until its last part.
//
//   node urql.mjs <graphql url>                         the page as text (ProductPage.graphql)
//   node urql.mjs <graphql url> <codegen output dir>    by id: the document GraphQL Codegen's client preset wrote,
//                                                       its `__meta__.hash` sent by persistedExchange
//   node urql.mjs <graphql url> <persisted-query-manifest.json>
//                                                       by id: the id an Apollo-format manifest (Apollo's generator,
//                                                       or `bezel documents build`) gives the operation's name
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

import { Client, cacheExchange, fetchExchange, getOperationName, gql } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";

import { PRODUCT_PAGE, VARIABLES, codegenDocuments, consoleMessages, partsIn, recordingFetch, report } from "./lib.mjs";

const { version } = createRequire(import.meta.url)("@urql/core/package.json");
const [url, ids] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: node urql.mjs <graphql url> [codegen output dir | persisted-query-manifest.json]\n");
  process.exit(2);
}
const said = consoleMessages();
const { fetch, sent } = recordingFetch();
let document;
let generateHash;
if (ids?.endsWith(".json")) {
  document = gql(PRODUCT_PAGE);
  // The recipe: a map from operation name to id, read from the manifest; urql's own text of the document
  // (its printer, its `__typename`s) is not the manifest's, so a map keyed by text never matches.
  const manifest = JSON.parse(await readFile(ids, "utf8"));
  const idOf = Object.fromEntries(manifest.operations.map((op) => [op.name, op.id]));
  generateHash = async (_query, doc) => idOf[getOperationName(doc)];
} else if (ids) {
  // (Not also gql(PRODUCT_PAGE) here: urql keeps one document per printed text, and that one has no hash.)
  ({ ProductPageDocument: document } = await codegenDocuments(ids));
  // The recipe: the hash Codegen put on the document.
  generateHash = async (_query, doc) => doc.__meta__?.hash;
} else {
  document = gql(PRODUCT_PAGE);
}
const exchanges = [cacheExchange, fetchExchange];
if (generateHash) {
  // Where generateHash has no id for a document, persistedExchange quietly sends its whole text;
  // enforcePersistedQueries only keeps it from sending the text after the server said it does not know the id.
  exchanges.splice(1, 0, persistedExchange({ enforcePersistedQueries: true, generateHash }));
}
const client = new Client({ url, exchanges, fetch });

const emissions = [];
let last = null;
await new Promise((resolve) => {
  const timer = setTimeout(resolve, 20_000);
  client.query(document, VARIABLES).subscribe((result) => {
    last = result;
    emissions.push({
      hasNext: result.hasNext, stale: result.stale, parts: partsIn(result.data),
      title: result.data?.product?.title ?? null, error: result.error ? String(result.error) : null,
    });
    if (!result.hasNext) {
      clearTimeout(timer);
      resolve();
    }
  });
});
const errors = (last?.error?.graphQLErrors ?? []).map((e) => ({ message: e.message, code: e.extensions?.code ?? null }));
report({
  client: "@urql/core", version, byId: Boolean(ids), sent, emissions, data: last?.data ?? null, errors,
  failure: last ? (last.error?.networkError ? String(last.error.networkError) : null) : "no answer within 20 s",
  console: said,
});
