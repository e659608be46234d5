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
 *    fixed by the first page (it travels in the cursor), so paging is stable.
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
import { and, conditions, createPostgresReader } from './postgres.query.js';
import { toHit } from './postgres.snippet.js';
import { createQueryCompiler } from './postgres.tsquery.js';
import {
  InvalidCursorError,
  cursorId,
  decodeCursor,
  encodeCursor,
  type IndexCount,
  type IndexFilter,
  type IndexHit,
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

function parseCursor(after: string, sort: IndexQuery['sort']) {
  const v = decodeCursor(after, CURSOR_TAG);
  if (v.s === 'n' && sort === 'newest') return { phase: 'newest' as const, id: cursorId(v.id) };
  if (v.s === 'rt' && sort === 'relevance') return { phase: 'older' as const, id: cursorId(v.id) };
  if (
    v.s === 'r' &&
    sort === 'relevance' &&
    typeof v.r === 'string' &&
    /^[0-9.eE+-]{1,32}$/.test(v.r) &&
    Number.isFinite(Number(v.r))
  ) {
    return { phase: 'ranked' as const, rank: v.r, id: cursorId(v.id), floor: cursorId(v.f) };
  }
  throw new InvalidCursorError('cursor belongs to another query');
}

export function createPostgresSearchIndex(opts: PostgresSearchOptions): SearchIndex {
  const { prisma } = opts;
  if (!LANGUAGE.test(opts.language))
    throw new Error(`search language must be a text search configuration name, got "${opts.language}"`);
  const cfg = Prisma.raw(`'${opts.language}'::regconfig`);
  const rankWindow = opts.rankWindow ?? 500;
  const compiler = createQueryCompiler(prisma, cfg);
  const { compile } = compiler;
  const { collect, newest, ranked } = createPostgresReader(prisma, rankWindow);

  const index: SearchIndex = {
    kind: 'postgres',

    init: () => checkSearchSchema(prisma, opts.language),

    // The documents table is in the application's database: reachable when it answers.
    ping: async () => (await prisma.$queryRaw`SELECT 1 FROM search_documents LIMIT 1`, 'postgres ok'),

    upsert: (docs: SearchDocument[]) => upsertDocuments(prisma, cfg, docs),

    remove: (messageIds: bigint[]) => removeDocuments(prisma, messageIds),

    async search(q: IndexQuery): Promise<IndexPage> {
      const cursor = q.after ? parseCursor(q.after, q.sort) : null;
      const c = await compile(q.terms);
      const where = conditions(q, c);
      if (!where) return { hits: [], hasMore: false };
      const want = q.limit + 1;

      // NEWEST, and relevance without words (everything ranks the same) or past the ranked window.
      const byTime = async (below: bigint | null, tag: 'n' | 'rt', limit: number) =>
        (await newest(where, c, limit, below)).map((r) =>
          toHit(r, c, encodeCursor(CURSOR_TAG, { s: tag, id: r.id }), null),
        );

      let hits: IndexHit[];
      if (q.sort === 'newest' || !c.pos) {
        const below = cursor && cursor.phase !== 'ranked' ? cursor.id : null;
        hits = await byTime(below, q.sort === 'newest' ? 'n' : 'rt', want);
      } else if (cursor?.phase === 'older') {
        hits = await byTime(cursor.id, 'rt', want);
      } else {
        const rc = cursor?.phase === 'ranked' ? cursor : null;
        const { rows, floor } = await ranked(
          where,
          c,
          want,
          rc ? { floor: rc.floor } : 'first',
          rc ? { rank: rc.rank, id: rc.id } : null,
        );
        const f = floor.toString();
        hits = rows.map((r) =>
          toHit(r, c, encodeCursor(CURSOR_TAG, { s: 'r', r: r.rank!, id: r.id, f }), Number(r.rank)),
        );
        if (hits.length < want && floor > 0n) hits.push(...(await byTime(floor, 'rt', want - hits.length)));
      }
      return { hits: hits.slice(0, q.limit), hasMore: hits.length > q.limit };
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
