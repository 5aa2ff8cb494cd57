import type { CodegenConfig } from "@graphql-codegen/cli";

// `npx graphql-codegen`, as a storefront team on GraphQL Code Generator runs it: the client preset over the
// storefront's operations (plain .graphql files, one operation each), with persisted documents on. It writes
// persisted-documents.json ({"sha256:<hex>": "<document>"}: the manifest `bezel documents check` and
// `[documents] manifest` take) and documents carrying their id in `__meta__.hash`.
const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["../../storefront/operations/*.graphql"],
  generates: {
    [process.env.CODEGEN_OUT ?? ".generated/codegen/"]: {
      preset: "client",
      presetConfig: { persistedDocuments: true },
    },
  },
};

export default config;
