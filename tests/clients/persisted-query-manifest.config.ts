import type { PersistedQueryManifestConfig } from "@apollo/generate-persisted-query-manifest";

// `npx generate-persisted-query-manifest`, as an Apollo Client team runs it: the storefront's operations, each
// as Apollo Client sends it (`__typename` in every selection set), its SHA-256 its id. The generator runs the
// documents through the `@apollo/client` it finds, here 3.14: with Apollo Client 4 (generator 1.4.0) it refuses
// every document with `@defer` ("`@defer` and `@stream` are not supported without specifying an incremental
// handler"), and it has no option to pass one. What it writes is what Apollo Client 4 sends as well.
const config: PersistedQueryManifestConfig = {
  documents: ["../../storefront/operations/*.graphql"],
  output: process.env.APOLLO_MANIFEST_OUT ?? ".generated/persisted-query-manifest.json",
};

export default config;
