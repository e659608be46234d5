import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from './context.js';

/** The Pothos builder. No types are defined here: see modules/ and schema.ts. */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date };
    /** An uploaded file (GraphQL multipart request spec); input only. */
    File: { Input: { stagedUpload: string }; Output: never };
  };
}>({
  defaultFieldNullability: false,
});
