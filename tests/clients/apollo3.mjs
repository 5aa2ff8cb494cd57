// Apollo Client 3 with its defaults (InMemoryCache adds `__typename` to every selection set; HttpLink asks for
// `@defer` parts by itself), watching the storefront's ProductPage until its last part.
//
//   node apollo3.mjs <graphql url>                                 the page as text
//   node apollo3.mjs <graphql url> <persisted-query-manifest.json>  by id: the persisted-query link, with the ids of
//                                                                   the manifest generate-persisted-query-manifest wrote
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

import { PRODUCT_PAGE, VARIABLES, consoleMessages, partsLink, recordingFetch, report, watchPage } from "./lib.mjs";

// Apollo Client 3 has no `exports` map: Node's ESM loader cannot import "@apollo/client/core"; CommonJS can.
const require = createRequire(import.meta.url);
const { ApolloClient, ApolloLink, HttpLink, InMemoryCache, Observable, gql } = require("@apollo/client/core");
const { createPersistedQueryLink } = require("@apollo/client/link/persisted-queries");
const { loadDevMessages, loadErrorMessages } = require("@apollo/client/dev");
const { generatePersistedQueryIdsFromManifest } = require("@apollo/persisted-query-lists");
const { version } = require("@apollo/client/package.json");

const [url, manifest] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: node apollo3.mjs <graphql url> [persisted-query-manifest.json]\n");
  process.exit(2);
}
loadDevMessages();
loadErrorMessages();
const said = consoleMessages();

const { fetch, sent } = recordingFetch();
const seen = partsLink(ApolloLink, Observable);
const links = [seen.link];
if (manifest) {
  links.push(createPersistedQueryLink(generatePersistedQueryIdsFromManifest({
    loadManifest: async () => JSON.parse(await readFile(manifest, "utf8")),
  })));
}
links.push(new HttpLink({ uri: url, fetch }));
const client = new ApolloClient({ link: ApolloLink.from(links), cache: new InMemoryCache() });

const page = await watchPage(client, gql(PRODUCT_PAGE), VARIABLES, seen);
report({ client: "@apollo/client", version, byId: Boolean(manifest), sent, ...page, console: said });
