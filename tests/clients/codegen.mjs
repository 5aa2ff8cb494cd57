// The storefront's ProductPage by id, as GraphQL Codegen's client preset (`persistedDocuments: true`) has a
// client send it: `documentId` is the generated document's `__meta__.hash` ("sha256:<hex>", the key of
// persisted-documents.json); one JSON answer (no multipart in Accept).
//
//   node codegen.mjs <graphql url> <codegen output dir>
import { VARIABLES, codegenDocuments, partsIn, recordingFetch, report } from "./lib.mjs";

const [url, dir] = process.argv.slice(2);
if (!url || !dir) {
  process.stderr.write("usage: node codegen.mjs <graphql url> <codegen output dir>\n");
  process.exit(2);
}
const { ProductPageDocument } = await codegenDocuments(dir);
const { fetch, sent } = recordingFetch();
const response = await fetch(url, {
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
  body: JSON.stringify({ documentId: ProductPageDocument.__meta__.hash, variables: VARIABLES }),
});
const answer = await response.json();
report({ client: "fetch", sent, data: answer.data ?? null, errors: answer.errors ?? [], parts: partsIn(answer.data) });
