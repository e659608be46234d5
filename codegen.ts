import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * GraphQL codegen (client preset): typed documents from the reference client's operations.
 * Frontend teams use the same setup; our integration tests call the API through these documents,
 * so codegen is proven on every `npm test` (pretest runs it).
 */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['schema/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'tests/generated/gql/': {
      preset: 'client',
      config: {
        scalars: { DateTime: 'string', ID: 'string' },
        enumsAsTypes: true,
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
      },
      // persisted-documents.json: sha256 → document, the manifest bots and partners run by id (PERSISTED_DOCUMENTS).
      presetConfig: { fragmentMasking: false, persistedDocuments: { hashAlgorithm: 'sha256' } },
    },
  },
  silent: true,
};

export default config;
