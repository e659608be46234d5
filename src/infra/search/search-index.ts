import type { SearchConfig } from '../../config.js';
import type { PrismaClient } from '../db/database.js';
import { createPostgresSearchIndex } from './postgres.search.js';
import type { SearchIndex } from './search-index.port.js';
import { createTypesenseSearchIndex } from './typesense.search.js';

export type { SearchIndex } from './search-index.port.js';

/** The one switch on config.search (called by the composition root). */
export function createSearchIndex(config: SearchConfig, deps: { prisma: PrismaClient }): SearchIndex {
  switch (config.kind) {
    case 'postgres':
      return createPostgresSearchIndex({ prisma: deps.prisma, language: config.language });
    case 'typesense':
      return createTypesenseSearchIndex({
        url: config.url,
        apiKey: config.apiKey,
        collection: config.collection,
        language: config.language,
      });
    default: {
      const never: never = config;
      throw new Error(`unknown search backend ${(never as { kind: string }).kind}`);
    }
  }
}
