import { expect } from 'vitest';
import type { IndexHit, IndexQuery, SearchIndex } from '../../src/infra/search/search-index.port.js';

/**
 * Walks every page of a search forward (after) or backward (before) and returns the hits in the
 * sort's order; every page but the last must be full.
 */
export async function walkSearch(
  index: Pick<SearchIndex, 'search'>,
  query: IndexQuery,
  backward = false,
  maxPages = 20,
): Promise<IndexHit[]> {
  const hits: IndexHit[] = [];
  let cursor: string | null = null;
  for (let pageNo = 0; pageNo < maxPages; pageNo++) {
    const page = await index.search({
      ...query,
      backward,
      after: backward ? null : cursor,
      before: backward ? cursor : null,
    });
    if (backward) hits.unshift(...page.hits);
    else hits.push(...page.hits);
    if (!page.hasMore) return hits;
    expect(page.hits).toHaveLength(query.limit);
    cursor = backward ? page.hits[0]!.cursor : page.hits.at(-1)!.cursor;
  }
  throw new Error('too many pages');
}
