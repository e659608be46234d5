/**
 * Search over everything the viewer may read: parses the query, resolves names to ids, works out
 * the readable channels (the same rule as channels.accessChannel: public channels of the
 * viewer's workspaces, and private channels and DMs they are a member of) and hands one query
 * with that channel list to the SearchIndex, which enforces it in its own query. It also builds
 * the index documents from PostgreSQL, for the outbox handlers and for reindexing.
 */
import { createHash } from 'node:crypto';
import type { ServiceDeps } from '../deps.js';
import { badInput, unavailable } from '../errors.js';
import { requireScope, type Viewer } from '../viewer.js';
import { cursorCodec, pageFlags, pageWindow } from '../paging.js';
import { snowflakeAt } from '../../infra/ids/snowflake.js';
import {
  InvalidCursorError,
  type IndexCount,
  type IndexFilter,
  type SearchSortKind,
} from '../../infra/search/search-index.port.js';
import { hasCriteria, parseSearchQuery } from './query-parser.js';
import { createSearchAccess, intersect, minus, unique } from './search.access.js';
import { createSearchIndexing } from './search.indexing.js';
import { emptyPage, loadResults } from './search.results.js';
import type { SearchInput, SearchPage } from './search.types.js';

export { SEARCH_OUTBOX_KINDS } from './search.indexing.js';
export type {
  IndexingVia,
  ReindexProgress,
  SearchFilterInput,
  SearchInput,
  SearchPage,
  SearchResultItem,
} from './search.types.js';

/** totalCount counts at most this many matches (and says when it stopped). */
export const SEARCH_COUNT_CAP = 1_000;
const DEFAULT_PAGE = 20;

const badCursor = (field: string) =>
  badInput('search/bad_cursor', `${field} is not a cursor from this search (same query, filter and sort)`, { field });

/**
 * Search cursors: the search's fingerprint (query, filter and sort) and the index's own cursor.
 * A cursor from another search, another sort or another list is refused as search/bad_cursor.
 */
const searchCursor = cursorCodec('search', ['text', 'text'], badCursor);

function fingerprint(input: SearchInput, sort: SearchSortKind): string {
  const json = JSON.stringify([input.query, input.filter ?? null, sort], (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v,
  );
  return createHash('sha256').update(json).digest('base64url').slice(0, 16);
}

/** Combines a flag from the query with one from the filter; 'conflict' when they disagree. */
function combineFlag(a: boolean | null, b: boolean | null | undefined): boolean | null | 'conflict' {
  if (a === null) return b ?? null;
  if (b === null || b === undefined) return a;
  return a === b ? a : 'conflict';
}

export function createSearchService(deps: ServiceDeps) {
  const { prisma, limits, searchIndex: index } = deps;
  const { readableChannelIds, resolveUsers, resolveChannels } = createSearchAccess(prisma);
  const { indexMessages, outboxHandlers, reindex } = createSearchIndexing(prisma, index);

  async function search(viewer: Viewer, input: SearchInput): Promise<SearchPage> {
    requireScope(viewer, 'CHANNELS_READ');
    const parsed = parseSearchQuery(input.query);
    const f = input.filter ?? {};
    const filterHasCriteria = [
      f.workspaceId,
      f.channelIds,
      f.fromUserIds,
      f.mentionsUserIds,
      f.hasFile,
      f.hasLink,
      f.isThread,
      f.after,
      f.before,
    ].some((v) => v !== null && v !== undefined);
    if (!hasCriteria(parsed) && !filterHasCriteria) {
      throw badInput('search/empty_query', 'type something to search for, or set a filter', { field: 'query' });
    }
    if (parsed.terms.length > 0 && parsed.terms.every((t) => t.negated)) {
      throw badInput('search/only_exclusions', 'add a word or "phrase" to search for: -word only excludes', {
        field: 'query',
      });
    }
    // Relay paging over the sort's order: first/after from its start, last/before from its end.
    const sort: SearchSortKind = input.sort ?? 'relevance';
    const w = pageWindow(input, limits.maxPageSize, searchCursor, DEFAULT_PAGE);
    const fp = fingerprint(input, sort);
    if (w.after && w.after[0] !== fp) throw badCursor('after');
    if (w.before && w.before[0] !== fp) throw badCursor('before');

    // Where the viewer may look, narrowed by the query and the filter.
    const readable = await readableChannelIds(viewer, f.workspaceId ?? null);
    let channelIds = readable;
    if (f.channelIds) channelIds = intersect(channelIds, f.channelIds);
    if (parsed.in.length) channelIds = intersect(channelIds, await resolveChannels(viewer, parsed.in, readable));
    if (parsed.notIn.length) channelIds = minus(channelIds, await resolveChannels(viewer, parsed.notIn, readable));
    if (channelIds.length === 0) return emptyPage(w);

    let authorIds: bigint[] | null = parsed.from.length ? await resolveUsers(viewer, parsed.from) : null;
    if (f.fromUserIds) authorIds = authorIds ? intersect(authorIds, f.fromUserIds) : unique(f.fromUserIds);
    const excludedAuthorIds = parsed.notFrom.length ? await resolveUsers(viewer, parsed.notFrom) : [];
    const mentionedUserIds: bigint[][] = [];
    if (parsed.mentions.length) mentionedUserIds.push(await resolveUsers(viewer, parsed.mentions));
    if (f.mentionsUserIds) mentionedUserIds.push(unique(f.mentionsUserIds));

    const hasFile = combineFlag(parsed.hasFile, f.hasFile);
    const hasLink = combineFlag(parsed.hasLink, f.hasLink);
    const isThread = combineFlag(parsed.isThread, f.isThread);
    if (hasFile === 'conflict' || hasLink === 'conflict' || isThread === 'conflict') return emptyPage(w);
    const after = [parsed.after, f.after]
      .filter((d): d is Date => Boolean(d))
      .sort((a, b) => b.getTime() - a.getTime())[0];
    const before = [parsed.before, f.before]
      .filter((d): d is Date => Boolean(d))
      .sort((a, b) => a.getTime() - b.getTime())[0];

    const filter: IndexFilter = {
      terms: parsed.terms,
      channelIds,
      authorIds,
      excludedAuthorIds,
      mentionedUserIds,
      hasFile,
      hasLink,
      isThread,
      minMessageId: after ? snowflakeAt(after) : null,
      maxMessageId: before ? snowflakeAt(before) : null,
    };

    let page;
    try {
      page = await index.search({
        ...filter,
        sort,
        limit: w.take,
        after: w.after?.[1] ?? null,
        before: w.before?.[1] ?? null,
        backward: !w.forward,
      });
    } catch (err) {
      if (err instanceof InvalidCursorError) throw badCursor(w.after ? 'after' : 'before');
      throw unavailable('search/unavailable', 'search is unavailable right now; try again shortly');
    }

    const hits = page.hits.map((h) => ({ ...h, cursor: searchCursor.encode([fp, h.cursor]) }));
    const results = await loadResults(prisma, hits, channelIds);
    let total: Promise<IndexCount> | null = null;
    return {
      results,
      ...pageFlags(page.hasMore, w),
      total: () =>
        (total ??= index.count(filter, SEARCH_COUNT_CAP).catch(() => {
          throw unavailable('search/unavailable', 'search is unavailable right now; try again shortly');
        })),
    };
  }

  return { search, indexMessages, outboxHandlers, reindex, readableChannelIds, backend: index.kind };
}

export type SearchService = ReturnType<typeof createSearchService>;
