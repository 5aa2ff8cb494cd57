// GraphQL Mesh compose: the sandbox's catalog (Shopify REST), tax (TaxJar) and BNPL (Affirm + Afterpay)
// APIs described by OpenAPI documents (openapi/*.json), composed into one supergraph that Hive Gateway
// serves. bench/peer.py copies this folder next to node_modules and runs `mesh-compose` with SANDBOX_URL
// set to the sandbox it started, so the endpoints point at that sandbox's vendor prefixes.
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const sandbox = process.env.SANDBOX_URL ?? 'http://127.0.0.1:8900';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('catalog', {
        source: './openapi/catalog.json',
        endpoint: `${sandbox}/catalog`,
      }),
    },
    {
      // TaxJar's calculation is a POST, but it reads and changes nothing: a query field, like Bezel's taxEstimate.
      sourceHandler: loadOpenAPISubgraph('tax', {
        source: './openapi/tax.json',
        endpoint: `${sandbox}/tax`,
        selectQueryOrMutationField: [{ type: 'query', fieldName: 'taxes' }],
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('bnpl', {
        source: './openapi/bnpl.json',
        endpoint: `${sandbox}/bnpl`,
      }),
    },
  ],
});
