import type { PersistedQueryManifestConfig } from "@apollo/generate-persisted-query-manifest";

// `npx generate-persisted-query-manifest`, as an Apollo Client team runs it: the storefront's operations,
// each as Apollo Client sends it (`__typename` in every selection set), with its SHA-256 as its id.
const config: PersistedQueryManifestConfig = {
  documents: ["../../storefront/operations/*.graphql"],
  output: process.env.APOLLO_MANIFEST_OUT ?? ".generated/persisted-query-manifest.json",
};

export default config;
