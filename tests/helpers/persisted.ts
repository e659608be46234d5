import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

/** The manifest `npm run codegen` writes (sha256 → document). */
export const MANIFEST = 'tests/generated/gql/persisted-documents.json';

/** The manifest id codegen gave a document (`sha256:<hex>`). */
export const idOf = (doc: TypedDocumentNode<unknown, never> | object) =>
  (doc as { __meta__: { hash: string } }).__meta__.hash;
