/**
 * PostgreSQL full-text search behind the SearchIndex port (the default backend, and what the
 * embedded PGlite database uses). Documents live in `search_documents` (migration *_search):
 *
 *  - `tsv` = to_tsvector(<language>, body) || to_tsvector('simple', body), one GIN index. Words
 *    match stemmed (websearch_to_tsquery under the language: "deploying" finds "deployed") or as
 *    prefixes of words as written ('deplo':* under 'simple': partial words find results). Phrases
 *    use websearch_to_tsquery's "quoted" form (adjacent lexemes). Stop words ("the") are skipped
 *    unless the query has nothing else.
 *  - Snippets come from ts_headline under 'simple', with the stems turned into prefixes so that
 *    "deploy" highlights "deployments".
 *  - Every query filters on channel_id = ANY(readable channels) in the same WHERE clause as the
 *    text match: pages are full and counts are honest.
 *  - NEWEST pages by message id (keyset). RELEVANCE ranks with ts_rank_cd (cover density: nearby
 *    matches rank higher); to keep the cost bounded for very common words it ranks the newest
 *    `rankWindow` matches, then continues with the older matches newest first. The window is
 *    fixed by the page that starts a walk (it travels in every cursor), so paging is stable. Both
 *    ways: backward pages walk the older matches oldest first (ids ascending) and the window from
 *    its tail, then are reversed into the sort's order.
 *  - "The newest N matches" is found by a walk over the scope or by the GIN bitmap, chosen by our
 *    own estimate from pg_stats (see bitmapCheaper and collect): the planner guesses a constant
 *    selectivity for prefix queries and would pick badly for rare and for common words.
 *
 * The query text never becomes SQL: terms are bind parameters, and the prefix queries are built
 * from letter/digit tokens only. The language is a validated identifier checked against
 * pg_ts_config at init, inlined as a literal so the planner can fold the tsquery to a constant.
 */
import { Prisma } from '../../generated/prisma/client.js';
import type { PrismaClient } from '../db/database.js';
import {
  checkSearchSchema,
  rebuildStartedAt,
  removeDocuments,
  sweepDocumentsBefore,
  upsertDocuments,
} from './postgres.documents.js';
import { and, compareRanked, conditions, createPostgresReader, type Found } from './postgres.query.js';
import { toHit, withSnippets } from './postgres.snippet.js';
import { createQueryCompiler } from './postgres.tsquery.js';
import {
  InvalidCursorError,
  cursorId,
  decodeCursor,
  encodeCursor,
  type IndexCount,
  type IndexFilter,
  type IndexPage,
  type IndexQuery,
  type IndexRebuild,
  type SearchDocument,
  type SearchIndex,
} from './search-index.port.js';

export interface PostgresSearchOptions {
  prisma: PrismaClient;
  /** A text search configuration name (pg_ts_config), e.g. 'english', 'german', 'simple'. */
  language: string;
  /** RELEVANCE ranks at most this many of the newest matches (default 500). */
  rankWindow?: number;
}

const LANGUAGE = /^[a-z_]{1,63}$/;
const CURSOR_TAG = 'pg';

/**
 * A position in a search's order. RELEVANCE with words is the ranked window (seg 0: rank, then
 * id, descending; `floor` = the window's oldest id, 0 when it holds every match) followed by the
 * older matches (seg 1: ids below `floor`, newest first). NEWEST, and RELEVANCE without words, is
 * seg 1 alone, unbounded (`floor` null).
 */
type Pos = { seg: 0; rank: string; id: bigint; floor: bigint } | { seg: 1; id: bigint; floor: bigint | null };

function parseCursor(cursor: string, sort: IndexQuery['sort']): Pos {
  const v = decodeCursor(cursor, CURSOR_TAG);
  if (v.s === 'n' && sort === 'newest') return { seg: 1, id: cursorId(v.id), floor: null };
  if (v.s === 'rt' && sort === 'relevance')
    return { seg: 1, id: cursorId(v.id), floor: v.f === undefined ? null : cursorId(v.f) };
  if (
    v.s === 'r' &&
    sort === 'relevance' &&
    typeof v.r === 'string' &&
    /^[0-9.eE+-]{1,32}$/.test(v.r) &&
    Number.isFinite(Number(v.r))
  ) {
    return { seg: 0, rank: v.r, id: cursorId(v.id), floor: cursorId(v.f) };
  }
  throw new InvalidCursorError('cursor belongs to another query');
}

function makeCursor(p: Pos, sort: IndexQuery['sort']): string {
  if (p.seg === 0) return encodeCursor(CURSOR_TAG, { s: 'r', r: p.rank, id: p.id.toString(), f: p.floor.toString() });
  if (sort === 'newest') return encodeCursor(CURSOR_TAG, { s: 'n', id: p.id.toString() });
  return encodeCursor(CURSOR_TAG, {
    s: 'rt',
    id: p.id.toString(),
    ...(p.floor === null ? {} : { f: p.floor.toString() }),
  });
}

/** Negative when `a` comes before `b` in the search's order. */
function comparePos(a: Pos, b: Pos): number {
  if (a.seg !== b.seg) return a.seg - b.seg;
  if (a.seg === 0 && b.seg === 0) return compareRanked(a.rank, a.id, b.rank, b.id);
  return a.id > b.id ? -1 : a.id < b.id ? 1 : 0;
}

export function createPostgresSearchIndex(opts: PostgresSearchOptions): SearchIndex {
  const { prisma } = opts;
  if (!LANGUAGE.test(opts.language))
    throw new Error(`search language must be a text search configuration name, got "${opts.language}"`);
  const cfg = Prisma.raw(`'${opts.language}'::regconfig`);
  const rankWindow = opts.rankWindow ?? 500;
  const compiler = createQueryCompiler(prisma, cfg);
  const { compile } = compiler;
  const { collect, rankedWindow } = createPostgresReader(prisma, rankWindow);

  const index: SearchIndex = {
    kind: 'postgres',

    init: () => checkSearchSchema(prisma, opts.language),

    // The documents table is in the application's database: reachable when it answers.
    ping: async () => (await prisma.$queryRaw`SELECT 1 FROM search_documents LIMIT 1`, 'postgres ok'),

    upsert: (docs: SearchDocument[]) => upsertDocuments(prisma, cfg, docs),

    remove: (messageIds: bigint[]) => removeDocuments(prisma, messageIds),

    async search(q: IndexQuery): Promise<IndexPage> {
      const after = q.after ? parseCursor(q.after, q.sort) : null;
      const before = q.before ? parseCursor(q.before, q.sort) : null;
      const c = await compile(q.terms);
      const ranking = q.sort === 'relevance' && c.pos !== null;
      // A ranking's cursors carry its window (seg 1 ones too: a backward walk climbs into it);
      // without words there is no window. Two cursors of one search share their window.
      for (const p of [after, before]) {
        if (p && ranking !== (p.floor !== null)) throw new InvalidCursorError('cursor belongs to another query');
      }
      if (after && before && after.floor !== before.floor)
        throw new InvalidCursorError('after and before belong to different searches');
      const where = conditions(q, c);
      if (!where) return { hits: [], hasMore: false };
      const want = q.limit + 1;
      type Item = { found: Found; pos: Pos };

      /** Matches of seg 1 (ids below `top`, when set) past `from`, newest first or, backward, oldest first. */
      const byTime = async (from: bigint | null, top: bigint | null, need: number): Promise<Item[]> => {
        const scope = top === null ? where.scope : [...where.scope, Prisma.sql`d.message_id < ${top}`];
        const found = await collect({ ...where, scope }, c, need, from, false, q.backward ? 'asc' : 'desc');
        return found.map((f) => ({ found: f, pos: { seg: 1, id: BigInt(f.id), floor: top } }));
      };
      /** The ranked window as items, in the direction of travel. */
      const windowItems = async (window: { floor: bigint } | 'first') => {
        const { list, floor } = await rankedWindow(where, c, window);
        const items: Item[] = list.map((f) => ({ found: f, pos: { seg: 0, rank: f.rank, id: BigInt(f.id), floor } }));
        return { items: q.backward ? items.reverse() : items, floor };
      };

      // Up to `want` items from the window's starting end (in the direction of travel).
      let items: Item[];
      const from = q.backward ? before : after;
      if (!ranking) {
        items = await byTime(from?.id ?? null, null, want);
      } else if (!q.backward) {
        if (from?.seg === 1) items = await byTime(from.id, from.floor, want);
        else {
          const w = await windowItems(from ? { floor: from.floor } : 'first');
          items = (from ? w.items.filter((i) => comparePos(i.pos, from) > 0) : w.items).slice(0, want);
          if (items.length < want && w.floor > 0n) items.push(...(await byTime(w.floor, w.floor, want - items.length)));
        }
      } else if (from?.seg === 0) {
        const w = await windowItems({ floor: from.floor });
        items = w.items.filter((i) => comparePos(i.pos, from) < 0).slice(0, want);
      } else {
        // From the end of the list, or from an older match: the older matches oldest first, then
        // the ranked window from its tail.
        const first = from ? null : await windowItems('first');
        const floor = from ? from.floor! : first!.floor;
        items = floor > 0n ? await byTime(from?.id ?? null, floor, want) : [];
        if (items.length < want)
          items.push(...(first ?? (await windowItems({ floor }))).items.slice(0, want - items.length));
      }

      // The other cursor ends the window: keep what comes before it in the direction of travel.
      const end = q.backward ? after : before;
      if (end) {
        const outside = items.findIndex((i) =>
          q.backward ? comparePos(i.pos, end) <= 0 : comparePos(i.pos, end) >= 0,
        );
        if (outside >= 0) items = items.slice(0, outside);
      }
      const page = items.slice(0, q.limit);
      if (q.backward) page.reverse();
      const rows = await withSnippets(
        prisma,
        c,
        page.map((i) => i.found),
      );
      const posOf = new Map(page.map((i) => [i.found.id, i.pos]));
      const hits = rows.map((r) => {
        const pos = posOf.get(r.id)!;
        return toHit(r, c, makeCursor(pos, q.sort), pos.seg === 0 ? Number(pos.rank) : null);
      });
      return { hits, hasMore: items.length > q.limit };
    },

    async count(f: IndexFilter, cap: number): Promise<IndexCount> {
      const c = await compile(f.terms);
      const where = conditions(f, c);
      if (!where) return { count: 0, exact: true };
      // With words: the same walk-or-bitmap choice as a search for cap + 1 hits.
      const n = where.text.length
        ? (await collect(where, c, cap + 1, null)).length
        : ((
            await prisma.$queryRaw<{ n: number }[]>`
              SELECT count(*)::int AS n FROM (SELECT 1 FROM search_documents d WHERE ${and(where.scope)} LIMIT ${cap + 1}) x`
          )[0]?.n ?? 0);
      return n > cap ? { count: cap, exact: false } : { count: n, exact: true };
    },

    async beginRebuild(): Promise<IndexRebuild> {
      // In place: the rebuild rewrites every live document (with the current language); commit
      // sweeps what neither it nor a live write touched since it began (indexed_at is the
      // statement's clock_timestamp()). Searches keep working throughout.
      const startedAt = await rebuildStartedAt(prisma);
      return {
        upsert: (docs) => index.upsert(docs),
        async commit() {
          await sweepDocumentsBefore(prisma, startedAt);
          compiler.reset();
        },
        async abort() {},
      };
    },

    close() {
      compiler.clearCompiled();
      return Promise.resolve();
    },
  };
  return index;
}
