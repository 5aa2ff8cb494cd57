// Hive Gateway serving the Mesh supergraph (mesh.config.ts) as it ships, logging warnings only, with one
// addition: each vendor's upstream timeout equals Bezel's timeout_ms for that vendor (bezel.toml), so a
// hung vendor is given up on at the same moment by both gateways. Hive adds no upstream timeout unless
// this option is set.
import { defineConfig } from '@graphql-hive/gateway';

const TIMEOUT_MS: Record<string, number> = { catalog: 400, tax: 500, bnpl: 400 };

export const gatewayConfig = defineConfig({
  supergraph: './supergraph.graphql',
  upstreamTimeout: ({ subgraphName }) => (subgraphName ? TIMEOUT_MS[subgraphName] : undefined),
  logging: 'warn',
});
