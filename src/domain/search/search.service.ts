/**
 * Search over everything the viewer may read: parses the query, resolves names to ids, works out
 * the readable channels (the same rule as channels.accessChannel: public channels of the
 * viewer's workspaces, and private channels and DMs they are a member of) and hands one query
 * with that channel list to the SearchIndex, which enforces it in its own query. It also builds
 * the index documents from PostgreSQL, for the outbox handlers and for reindexing.
 */
import { Prisma, type Message } from '../../generated/prisma/client.js';
import type { ServiceDeps } from '../deps.js';
import { badInput, unavailable } from '../errors.js';
import { requireScope, type Viewer } from '../viewer.js';
import { pageSize } from '../validate.js';
import { snowflakeAt } from '../../infra/ids/snowflake.js';
import {
  InvalidCursorError,
  cleanText,
  type IndexCount,
  type IndexFilter,
  type SearchDocument,
  type SearchSortKind,
  type SnippetPart,
} from '../../infra/search/search-index.port.js';
import type { OutboxEvent, OutboxHandler } from '../../infra/outbox/outbox.worker.js';
import { hasCriteria, parseSearchQuery, type ChannelRef, type UserRef } from './query-parser.js';

export const SEARCH_OUTBOX_KINDS = ['message.posted', 'message.edited', 'message.deleted'] as const;
/** totalCount counts at most this many matches (and says when it stopped). */
export const SEARCH_COUNT_CAP = 1_000;
const DEFAULT_PAGE = 20;
const LINK = /\bhttps?:\/\/[^\s<>]+/i;

export interface SearchFilterInput {
  workspaceId?: bigint | null;
  channelIds?: bigint[] | null;
  fromUserIds?: bigint[] | null;
  mentionsUserIds?: bigint[] | null;
  hasFile?: boolean | null;
  hasLink?: boolean | null;
  isThread?: boolean | null;
  /** Sent at or after this instant. */
  after?: Date | null;
  /** Sent before this instant. */
  before?: Date | null;
}

export interface SearchInput {
  query: string;
  filter?: SearchFilterInput | null;
  sort?: SearchSortKind | null;
  first?: number | null;
  after?: string | null;
}

export interface SearchResultItem {
  message: Message;
  snippet: SnippetPart[];
  score: number | null;
  cursor: string;
}

export interface SearchPage {
  results: SearchResultItem[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  /** Matches the viewer may read, counted up to SEARCH_COUNT_CAP; computed on first call only. */
  total(): Promise<IndexCount>;
}

export interface ReindexProgress {
  done: number;
  total: number;
  elapsedMs: number;
}

interface DocRow {
  id: string;
  channel_id: string;
  workspace_id: string;
  author_id: string;
  thread_root_id: string | null;
  text: string;
  created_at: Date;
  deleted_at: Date | null;
  reply_count: number;
  has_file: boolean;
  mentioned: string[];
}

const DOC_COLUMNS =
  Prisma.raw(`m.id::text AS id, m.channel_id::text AS channel_id, c.workspace_id::text AS workspace_id,
  m.author_id::text AS author_id, m.thread_root_id::text AS thread_root_id, m.text, m.created_at, m.deleted_at, m.reply_count,
  EXISTS (SELECT 1 FROM message_files f WHERE f.message_id = m.id) AS has_file,
  ARRAY(SELECT DISTINCT mm.user_id::text FROM message_mentions mm WHERE mm.message_id = m.id AND mm.kind = 'USER' AND mm.user_id IS NOT NULL) AS mentioned`);

function toDocument(r: DocRow): SearchDocument {
  return {
    messageId: BigInt(r.id),
    channelId: BigInt(r.channel_id),
    workspaceId: BigInt(r.workspace_id),
    authorId: BigInt(r.author_id),
    threadRootId: r.thread_root_id === null ? null : BigInt(r.thread_root_id),
    isThread: r.thread_root_id !== null || Number(r.reply_count) > 0,
    hasFile: r.has_file,
    hasLink: LINK.test(r.text),
    mentionedUserIds: (r.mentioned ?? []).map((v) => BigInt(v)),
    text: cleanText(r.text),
    createdAt: r.created_at,
  };
}

const key = (id: bigint) => id.toString();
const intersect = (a: bigint[], b: readonly bigint[]) => {
  const s = new Set(b.map(key));
  return a.filter((x) => s.has(key(x)));
};
const minus = (a: bigint[], b: readonly bigint[]) => {
  const s = new Set(b.map(key));
  return a.filter((x) => !s.has(key(x)));
};
const unique = (a: readonly bigint[]) => [...new Map(a.map((x) => [key(x), x])).values()];

/** Combines a flag from the query with one from the filter; 'conflict' when they disagree. */
function combineFlag(a: boolean | null, b: boolean | null | undefined): boolean | null | 'conflict' {
  if (a === null) return b ?? null;
  if (b === null || b === undefined) return a;
  return a === b ? a : 'conflict';
}

/** Where indexing reads messages from and writes documents to (by default the service's own). */
export interface IndexingVia {
  prisma: ServiceDeps['prisma'];
  searchIndex: ServiceDeps['searchIndex'];
}

export function createSearchService(deps: ServiceDeps) {
  const { prisma, limits, searchIndex: index } = deps;

  /** The viewer's readable channels (accessChannel's rule), optionally within one workspace. */
  async function readableChannelIds(viewer: Viewer, workspaceId: bigint | null): Promise<bigint[]> {
    const ws = [workspaceId, viewer.kind === 'bot' ? viewer.workspaceId : null].filter((w): w is bigint => w !== null);
    const scope = ws.length ? Prisma.sql`AND c.workspace_id = ALL(${ws}::bigint[])` : Prisma.empty;
    const rows = await prisma.$queryRaw<{ id: string }[]>`
      SELECT c.id::text AS id FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
      WHERE cm.user_id = ${viewer.userId} ${scope}
      UNION
      SELECT c.id::text AS id FROM workspace_members wm JOIN channels c ON c.workspace_id = wm.workspace_id AND c.kind = 'PUBLIC'
      WHERE wm.user_id = ${viewer.userId} ${scope}`;
    return rows.map((r) => BigInt(r.id));
  }

  /** Users named by from:/mentions: values, among the people who share a workspace with the viewer (ids and `me` as given). */
  async function resolveUsers(viewer: Viewer, refs: UserRef[]): Promise<bigint[]> {
    const out: bigint[] = [];
    const names: string[] = [];
    const emails: string[] = [];
    for (const r of refs) {
      if (r.kind === 'me') out.push(viewer.userId);
      else if (r.kind === 'id') out.push(r.id);
      else if (r.kind === 'email') emails.push(r.email);
      else names.push(r.name);
    }
    if (names.length || emails.length) {
      const rows = await prisma.$queryRaw<{ id: string }[]>`
        SELECT DISTINCT u.id::text AS id FROM users u JOIN workspace_members wm ON wm.user_id = u.id
        WHERE wm.workspace_id IN (SELECT workspace_id FROM workspace_members WHERE user_id = ${viewer.userId})
          AND (lower(u.email) = ANY(${emails}::text[])
            OR regexp_replace(lower(normalize(u.name, NFKC)), '[[:space:]._-]+', '', 'g') = ANY(${names}::text[]))`;
      out.push(...rows.map((r) => BigInt(r.id)));
    }
    return unique(out);
  }

  /** in: values to channel ids, within the readable ones (anything else simply matches nothing). */
  async function resolveChannels(viewer: Viewer, refs: ChannelRef[], readable: bigint[]): Promise<bigint[]> {
    const out: bigint[] = [];
    const names: string[] = [];
    const dmUsers: UserRef[] = [];
    for (const r of refs) {
      if (r.kind === 'id') out.push(r.id);
      else if (r.kind === 'name') names.push(r.name);
      else dmUsers.push(r.user);
    }
    if (names.length) {
      const rows = await prisma.$queryRaw<{ id: string }[]>`
        SELECT id::text AS id FROM channels
        WHERE id = ANY(${readable}::bigint[]) AND kind <> 'DIRECT' AND lower(name) = ANY(${names}::text[])`;
      out.push(...rows.map((r) => BigInt(r.id)));
    }
    if (dmUsers.length) {
      const users = await resolveUsers(viewer, dmUsers);
      if (users.length) {
        const rows = await prisma.$queryRaw<{ id: string }[]>`
          SELECT DISTINCT cm.channel_id::text AS id FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
          WHERE c.kind = 'DIRECT' AND cm.channel_id = ANY(${readable}::bigint[]) AND cm.user_id = ANY(${users}::bigint[])`;
        out.push(...rows.map((r) => BigInt(r.id)));
      }
    }
    return intersect(unique(out), readable);
  }

  function emptyPage(after: string | null | undefined): SearchPage {
    return {
      results: [],
      hasNextPage: false,
      hasPreviousPage: Boolean(after),
      total: async () => ({ count: 0, exact: true }),
    };
  }

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
    const limit = pageSize(input.first, limits.maxPageSize, DEFAULT_PAGE);
    if (input.after != null && (input.after.length === 0 || input.after.length > 512)) {
      throw badInput('search/bad_cursor', 'after is not a cursor from this search', { field: 'after' });
    }
    const sort: SearchSortKind = input.sort ?? 'relevance';

    // Where the viewer may look, narrowed by the query and the filter.
    const readable = await readableChannelIds(viewer, f.workspaceId ?? null);
    let channelIds = readable;
    if (f.channelIds) channelIds = intersect(channelIds, f.channelIds);
    if (parsed.in.length) channelIds = intersect(channelIds, await resolveChannels(viewer, parsed.in, readable));
    if (parsed.notIn.length) channelIds = minus(channelIds, await resolveChannels(viewer, parsed.notIn, readable));
    if (channelIds.length === 0) return emptyPage(input.after);

    let authorIds: bigint[] | null = parsed.from.length ? await resolveUsers(viewer, parsed.from) : null;
    if (f.fromUserIds) authorIds = authorIds ? intersect(authorIds, f.fromUserIds) : unique(f.fromUserIds);
    const excludedAuthorIds = parsed.notFrom.length ? await resolveUsers(viewer, parsed.notFrom) : [];
    const mentionedUserIds: bigint[][] = [];
    if (parsed.mentions.length) mentionedUserIds.push(await resolveUsers(viewer, parsed.mentions));
    if (f.mentionsUserIds) mentionedUserIds.push(unique(f.mentionsUserIds));

    const hasFile = combineFlag(parsed.hasFile, f.hasFile);
    const hasLink = combineFlag(parsed.hasLink, f.hasLink);
    const isThread = combineFlag(parsed.isThread, f.isThread);
    if (hasFile === 'conflict' || hasLink === 'conflict' || isThread === 'conflict') return emptyPage(input.after);
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
      page = await index.search({ ...filter, sort, limit, after: input.after ?? null });
    } catch (err) {
      if (err instanceof InvalidCursorError)
        throw badInput('search/bad_cursor', 'after is not a cursor from this search', { field: 'after' });
      throw unavailable('search/unavailable', 'search is unavailable right now; try again shortly');
    }

    // The index answers for readable channels only (the filter above). Messages are loaded for the
    // result; one deleted or edited a moment ago may still be in the index for the length of the
    // indexing lag: deleted ones are left out (their text is gone), edited ones show the new text.
    const ids = page.hits.map((h) => h.messageId);
    const messages = ids.length ? await prisma.message.findMany({ where: { id: { in: ids } } }) : [];
    const byId = new Map(messages.map((m) => [key(m.id), m]));
    const allowed = new Set(channelIds.map(key));
    const results: SearchResultItem[] = [];
    for (const h of page.hits) {
      const message = byId.get(key(h.messageId));
      if (!message || message.deletedAt) continue;
      if (!allowed.has(key(message.channelId))) {
        // Cannot happen unless an index ignores its channel filter: fail closed, loudly.
        throw new Error(`search index returned message ${message.id} outside the requested channels`);
      }
      results.push({ message, snippet: h.snippet, score: h.score, cursor: h.cursor });
    }
    let total: Promise<IndexCount> | null = null;
    return {
      results,
      hasNextPage: page.hasMore,
      hasPreviousPage: Boolean(input.after),
      total: () =>
        (total ??= index.count(filter, SEARCH_COUNT_CAP).catch(() => {
          throw unavailable('search/unavailable', 'search is unavailable right now; try again shortly');
        })),
    };
  }

  /**
   * Brings the index in line with PostgreSQL for these messages (and the thread roots of
   * replies, whose is:thread may have changed): live ones are upserted, deleted or missing ones
   * removed. Idempotent; safe to repeat and to run concurrently with itself.
   */
  async function indexMessages(messageIds: bigint[], via: IndexingVia = { prisma, searchIndex: index }): Promise<void> {
    const ids = unique(messageIds);
    if (ids.length === 0) return;
    const rows = await via.prisma.$queryRaw<DocRow[]>`
      SELECT ${DOC_COLUMNS} FROM messages m JOIN channels c ON c.id = m.channel_id
      WHERE m.id IN (
        SELECT id FROM messages WHERE id = ANY(${ids}::bigint[])
        UNION SELECT thread_root_id FROM messages WHERE id = ANY(${ids}::bigint[]) AND thread_root_id IS NOT NULL)`;
    const found = new Set(rows.map((r) => r.id));
    const live = rows.filter((r) => r.deleted_at === null);
    const gone = [
      ...rows.filter((r) => r.deleted_at !== null).map((r) => BigInt(r.id)),
      ...ids.filter((id) => !found.has(key(id))),
    ];
    await via.searchIndex.upsert(live.map(toDocument));
    await via.searchIndex.remove(gone);
  }

  function messageIdOf(e: OutboxEvent): bigint {
    const v = (e.payload as { messageId?: unknown } | null)?.messageId;
    return typeof v === 'string' && /^[0-9]{1,19}$/.test(v) ? BigInt(v) : e.aggregateId;
  }

  /**
   * One handler for every message event: re-read the message and sync the index. `via` lets the
   * composition root give the worker connections of its own (request load must not starve it).
   */
  function outboxHandlers(via?: IndexingVia): Record<string, OutboxHandler> {
    const handler: OutboxHandler = (events) => indexMessages(events.map(messageIdOf), via);
    return Object.fromEntries(SEARCH_OUTBOX_KINDS.map((k) => [k, handler]));
  }

  /**
   * Rebuilds the whole index from PostgreSQL: streams every live message in id order into a
   * rebuild of the index, commits it, then re-applies whatever changed while it ran (the outbox
   * worker kept the old index current meanwhile; for Typesense the rebuild is a new collection).
   */
  async function reindex(opts: { batchSize?: number; onProgress?: (p: ReindexProgress) => void } = {}) {
    const batchSize = opts.batchSize ?? 2_000;
    const t0 = performance.now();
    const [{ started, total }] = (await prisma.$queryRaw<{ started: Date; total: number }[]>`
      SELECT now() AS started, (SELECT count(*)::int FROM messages WHERE deleted_at IS NULL) AS total`) as [
      { started: Date; total: number },
    ];
    await index.init();
    const rebuild = await index.beginRebuild();
    let done = 0;
    try {
      let after = 0n;
      for (;;) {
        const rows = await prisma.$queryRaw<DocRow[]>`
          SELECT ${DOC_COLUMNS} FROM messages m JOIN channels c ON c.id = m.channel_id
          WHERE m.id > ${after} AND m.deleted_at IS NULL ORDER BY m.id LIMIT ${batchSize}`;
        if (rows.length === 0) break;
        await rebuild.upsert(rows.map(toDocument));
        done += rows.length;
        after = BigInt(rows.at(-1)!.id);
        opts.onProgress?.({ done, total: Math.max(total, done), elapsedMs: performance.now() - t0 });
      }
      await rebuild.commit();
    } catch (err) {
      await rebuild.abort().catch(() => {});
      throw err;
    }
    // Catch up with what changed since the rebuild began (a minute of slack for clock skew
    // between app servers and the database).
    const since = new Date(started.getTime() - 60_000);
    const changed = await prisma.$queryRaw<{ id: string }[]>`
      SELECT id::text AS id FROM messages
      WHERE created_at >= ${since} OR edited_at >= ${since} OR deleted_at >= ${since} OR last_reply_at >= ${since}`;
    for (let i = 0; i < changed.length; i += batchSize) {
      await indexMessages(changed.slice(i, i + batchSize).map((r) => BigInt(r.id)));
    }
    return { indexed: done, caughtUp: changed.length, elapsedMs: performance.now() - t0 };
  }

  return { search, indexMessages, outboxHandlers, reindex, readableChannelIds, backend: index.kind };
}

export type SearchService = ReturnType<typeof createSearchService>;
