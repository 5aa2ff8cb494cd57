// Apollo Client 4 with its defaults (`__typename` in every selection set), plus the one thing `@defer` needs
// there: an incremental handler (Defer20220824Handler; without one it refuses any document with `@defer`),
// watching the storefront's ProductPage until its last part. Installed as "apollo4" (npm:@apollo/client@4).
//
//   node apollo4.mjs <graphql url>                                 the page as text
//   node apollo4.mjs <graphql url> <persisted-query-manifest.json>  by id: the persisted-query link, with the ids of
//                                                                   the manifest generate-persisted-query-manifest wrote
import { readFile } from "node:fs/promises";

import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql, version } from "apollo4";
import { loadDevMessages, loadErrorMessages } from "apollo4/dev";
import { Defer20220824Handler } from "apollo4/incremental";
import { PersistedQueryLink } from "apollo4/link/persisted-queries";
import { Observable } from "rxjs";

import { PRODUCT_PAGE, VARIABLES, consoleMessages, partsLink, recordingFetch, report, watchPage } from "./lib.mjs";

const [url, manifest] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: node apollo4.mjs <graphql url> [persisted-query-manifest.json]\n");
  process.exit(2);
}
loadDevMessages();
loadErrorMessages();
const said = consoleMessages();

const { fetch, sent } = recordingFetch();
const seen = partsLink(ApolloLink, Observable);
const links = [seen.link];
if (manifest) {
  links.push(new PersistedQueryLink(generatePersistedQueryIdsFromManifest({
    loadManifest: async () => JSON.parse(await readFile(manifest, "utf8")),
  })));
}
links.push(new HttpLink({ uri: url, fetch }));
const client = new ApolloClient({
  link: ApolloLink.from(links),
  cache: new InMemoryCache(),
  incrementalHandler: new Defer20220824Handler(),
});

const page = await watchPage(client, gql(PRODUCT_PAGE), VARIABLES, seen);
report({ client: "@apollo/client", version, byId: Boolean(manifest), sent, ...page, console: said });
