/** Search: index hits turned into results (messages loaded, deleted ones left out, fail closed), and the empty page. */
import type { ServiceDeps } from '../deps.js';
import type { IndexHit } from '../../infra/search/search-index.port.js';
import { key } from './search.access.js';
import type { SearchPage, SearchResultItem } from './search.types.js';
import { pageFlags, type Window } from '../paging.js';

/** No results: the flags say only whether the window was bounded (as for any page). */
export function emptyPage(w: Pick<Window<unknown>, 'forward' | 'after' | 'before'>): SearchPage {
  return {
    results: [],
    ...pageFlags(false, w),
    total: () => Promise.resolve({ count: 0, exact: true }),
  };
}

/** The messages of these hits, in hit order, checked against the channels the index was asked about. */
export async function loadResults(
  prisma: ServiceDeps['prisma'],
  hits: IndexHit[],
  channelIds: bigint[],
): Promise<SearchResultItem[]> {
  // The index answers for readable channels only (the search filter). Messages are loaded for the
  // result; one deleted or edited a moment ago may still be in the index for the length of the
  // indexing lag: deleted ones are left out (their text is gone), edited ones show the new text.
  const ids = hits.map((h) => h.messageId);
  const messages = ids.length ? await prisma.message.findMany({ where: { id: { in: ids } } }) : [];
  const byId = new Map(messages.map((m) => [key(m.id), m]));
  const allowed = new Set(channelIds.map(key));
  const results: SearchResultItem[] = [];
  for (const h of hits) {
    const message = byId.get(key(h.messageId));
    if (!message || message.deletedAt) continue;
    if (!allowed.has(key(message.channelId))) {
      // Cannot happen unless an index ignores its channel filter: fail closed, loudly.
      throw new Error(`search index returned message ${message.id} outside the requested channels`);
    }
    results.push({ message, snippet: h.snippet, score: h.score, cursor: h.cursor });
  }
  return results;
}
