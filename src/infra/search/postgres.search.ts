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
 *  - NEWEST walks message ids downwards (keyset). RELEVANCE ranks with ts_rank_cd (cover density: nearby matches
 *    rank higher); to keep the cost
 *    bounded for very common words it ranks the newest `rankWindow` matches, then continues with
 *    the older matches newest first. The window is fixed by the first page (it travels in the
 *    cursor), so paging is stable.
 *
 * The query text never becomes SQL: terms are bind parameters, and the prefix queries are built
 * from letter/digit tokens only. The language is a validated identifier checked against
 * pg_ts_config at init, inlined as a literal so the planner can fold the tsquery to a constant.
 */
import { Prisma } from '../../generated/prisma/client.js';
import type { PrismaClient } from '../db/database.js';
import {
  HL_END,
  HL_START,
  InvalidCursorError,
  LT_MARK,
  cursorId,
  decodeCursor,
  encodeCursor,
  plainExcerpt,
  splitHighlighted,
  wordTokens,
  type IndexCount,
  type IndexFilter,
  type IndexHit,
  type IndexPage,
  type IndexQuery,
  type IndexRebuild,
  type SearchDocument,
  type SearchIndex,
  type SearchTerm,
} from './search-index.port.js';

export interface PostgresSearchOptions {
  prisma: PrismaClient;
  /** A text search configuration name (pg_ts_config), e.g. 'english', 'german', 'simple'. */
  language: string;
  /** RELEVANCE ranks at most this many of the newest matches (default 2,000). */
  rankWindow?: number;
}

const LANGUAGE = /^[a-z_]{1,63}$/;
const CURSOR_TAG = 'pg';
/** Shorter bodies are returned whole (highlighted); longer ones as fragments around the matches. */
const WHOLE_BODY_CHARS = 280;
const HEADLINE_WHOLE = `HighlightAll=true, StartSel=${HL_START}, StopSel=${HL_END}`;
const HEADLINE_FRAGMENTS = `MaxFragments=2, MaxWords=18, MinWords=6, ShortWord=2, FragmentDelimiter=" … ", StartSel=${HL_START}, StopSel=${HL_END}`;
/** Turns every lexeme of a tsquery's text form into a prefix: 'run' -> 'run':*. */
const PREFIX_PATTERN = "'((?:[^']|'')*)'(:\\*)?";
const PREFIX_REPLACEMENT = "'\\1':*";
const COMPILED_CACHE_SIZE = 1_000;

interface Compiled {
  /** Documents must match this (null: no positive terms). */
  pos: string | null;
  /** Documents must not match this. */
  neg: string | null;
  /** For ts_headline under 'simple' (an OR of the positive terms, as prefixes). */
  hl: string | null;
}

type Row = { id: string; channel_id: string; snippet: string | null; rank?: string | null };

export function createPostgresSearchIndex(opts: PostgresSearchOptions): SearchIndex {
  const { prisma } = opts;
  if (!LANGUAGE.test(opts.language)) throw new Error(`search language must be a text search configuration name, got "${opts.language}"`);
  const cfg = Prisma.raw(`'${opts.language}'::regconfig`);
  const rankWindow = opts.rankWindow ?? 2_000;
  const compiledCache = new Map<string, Compiled>();

  /** Turns the terms into tsquery texts, in one round trip (cached: the result depends on the terms only). */
  async function compile(terms: SearchTerm[]): Promise<Compiled> {
    if (terms.length === 0) return { pos: null, neg: null, hl: null };
    const key = JSON.stringify(terms);
    const hit = compiledCache.get(key);
    if (hit) return hit;

    const main: Prisma.Sql[] = [];
    const fallback: Prisma.Sql[] = [];
    const highlight: Prisma.Sql[] = [];
    const negative: Prisma.Sql[] = [];
    for (const t of terms) {
      if (t.kind === 'word') {
        const stem = Prisma.sql`websearch_to_tsquery(${cfg}, ${t.text})`;
        if (t.negated) {
          negative.push(stem);
          continue;
        }
        const tokens = wordTokens(t.text);
        if (tokens.length === 0) continue;
        const prefix = Prisma.sql`to_tsquery('simple', ${tokens.map((tok) => `'${tok}'${[...tok].length >= 2 ? ':*' : ''}`).join(' & ')})`;
        main.push(Prisma.sql`(CASE WHEN numnode(${stem}) = 0 THEN ''::tsquery ELSE (${stem} || ${prefix}) END)`);
        fallback.push(prefix);
        highlight.push(Prisma.sql`(regexp_replace(${stem}::text, ${PREFIX_PATTERN}, ${PREFIX_REPLACEMENT}, 'g')::tsquery || ${prefix})`);
      } else {
        const stem = Prisma.sql`websearch_to_tsquery(${cfg}, ${`"${t.text}"`})`;
        if (t.negated) {
          negative.push(stem);
          continue;
        }
        const simple = Prisma.sql`phraseto_tsquery('simple', ${t.text})`;
        main.push(stem);
        fallback.push(simple);
        highlight.push(Prisma.sql`(regexp_replace(${stem}::text, ${PREFIX_PATTERN}, ${PREFIX_REPLACEMENT}, 'g')::tsquery || ${simple})`);
      }
    }
    const all = (list: Prisma.Sql[], op: string) => (list.length ? Prisma.join(list, ` ${op} `) : Prisma.sql`''::tsquery`);
    const [row] = await prisma.$queryRaw<{ pos: string; neg: string; hl: string }[]>`
      SELECT q.pos::text AS pos, q.neg::text AS neg, q.hl::text AS hl FROM (
        SELECT CASE WHEN numnode(p.main) = 0 THEN p.fb ELSE p.main END AS pos, p.neg, p.hl FROM (
          SELECT ${all(main, '&&')} AS main, ${all(fallback, '&&')} AS fb, ${all(negative, '||')} AS neg, ${all(highlight, '||')} AS hl
        ) p
      ) q`;
    const compiled: Compiled = { pos: row?.pos || null, neg: row?.neg || null, hl: row?.hl || null };
    if (compiledCache.size >= COMPILED_CACHE_SIZE) compiledCache.delete(compiledCache.keys().next().value!);
    compiledCache.set(key, compiled);
    return compiled;
  }

  /** The WHERE clause shared by search and count; null when nothing can match. */
  function conditions(f: IndexFilter, c: Compiled): Prisma.Sql[] | null {
    if (f.channelIds.length === 0) return null;
    if (f.authorIds && f.authorIds.length === 0) return null;
    if (f.mentionedUserIds?.some((g) => g.length === 0)) return null;
    if (c.pos === null && f.terms.some((t) => !t.negated)) return null; // only punctuation: nothing to find
    const where: Prisma.Sql[] = [Prisma.sql`d.channel_id = ANY(${f.channelIds}::bigint[])`];
    if (c.pos) where.push(Prisma.sql`d.tsv @@ ${c.pos}::tsquery`);
    if (c.neg) where.push(Prisma.sql`NOT (d.tsv @@ ${c.neg}::tsquery)`);
    if (f.authorIds) where.push(Prisma.sql`d.author_id = ANY(${f.authorIds}::bigint[])`);
    if (f.excludedAuthorIds?.length) where.push(Prisma.sql`NOT (d.author_id = ANY(${f.excludedAuthorIds}::bigint[]))`);
    for (const group of f.mentionedUserIds ?? []) where.push(Prisma.sql`d.mentioned_user_ids && ${group}::bigint[]`);
    if (f.hasFile != null) where.push(Prisma.sql`d.has_file = ${f.hasFile}`);
    if (f.hasLink != null) where.push(Prisma.sql`d.has_link = ${f.hasLink}`);
    if (f.isThread != null) where.push(Prisma.sql`d.is_thread = ${f.isThread}`);
    if (f.minMessageId != null) where.push(Prisma.sql`d.message_id >= ${f.minMessageId}`);
    if (f.maxMessageId != null) where.push(Prisma.sql`d.message_id < ${f.maxMessageId}`);
    return where;
  }

  /** ts_headline over the `body` column of relation `s`, or the start of the text when there is nothing to highlight. */
  function snippetSql(c: Compiled): Prisma.Sql {
    if (!c.hl) return Prisma.sql`left(s.body, 600)`;
    return Prisma.sql`CASE WHEN length(s.body) <= ${WHOLE_BODY_CHARS}
      THEN ts_headline('simple', replace(s.body, '<', ${LT_MARK}), ${c.hl}::tsquery, ${HEADLINE_WHOLE})
      ELSE ts_headline('simple', replace(s.body, '<', ${LT_MARK}), ${c.hl}::tsquery, ${HEADLINE_FRAGMENTS}) END`;
  }

  function toHit(r: Row, c: Compiled, cursor: string, score: number | null): IndexHit {
    const text = r.snippet ?? '';
    return {
      messageId: BigInt(r.id),
      channelId: BigInt(r.channel_id),
      snippet: c.hl ? splitHighlighted(text) : plainExcerpt(text),
      score,
      cursor,
    };
  }

  async function newest(where: Prisma.Sql[], c: Compiled, limit: number, below: bigint | null): Promise<Row[]> {
    const w = below === null ? where : [...where, Prisma.sql`d.message_id < ${below}`];
    return prisma.$queryRaw<Row[]>`
      SELECT s.message_id::text AS id, s.channel_id::text AS channel_id, ${snippetSql(c)} AS snippet
      FROM (
        SELECT d.message_id, d.channel_id, d.body FROM search_documents d
        WHERE ${Prisma.join(w, ' AND ')}
        ORDER BY d.message_id DESC LIMIT ${limit}
      ) s
      ORDER BY s.message_id DESC`;
  }

  /** Ranked matches among those with id >= floor (the first page: the newest rankWindow matches). */
  async function ranked(
    where: Prisma.Sql[],
    c: Compiled,
    limit: number,
    window: { floor: bigint } | 'first',
    after: { rank: string; id: bigint } | null,
  ): Promise<{ rows: Row[]; floor: bigint }> {
    const scope = window === 'first'
      ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')} ORDER BY d.message_id DESC LIMIT ${rankWindow}`
      : Prisma.sql`WHERE ${Prisma.join([...where, Prisma.sql`d.message_id >= ${window.floor}`], ' AND ')}`;
    const keyset = after
      ? Prisma.sql`WHERE r.rank < ${after.rank}::real OR (r.rank = ${after.rank}::real AND r.message_id < ${after.id})`
      : Prisma.empty;
    const rows = await prisma.$queryRaw<(Row & { window_count: number; window_min: string | null })[]>`
      WITH w AS (
        SELECT d.message_id, d.channel_id, d.body, d.tsv FROM search_documents d ${scope}
      ), r AS (
        SELECT w.message_id, w.channel_id, w.body, ts_rank_cd(w.tsv, ${c.pos}::tsquery) AS rank FROM w
      )
      SELECT s.message_id::text AS id, s.channel_id::text AS channel_id, s.rank::text AS rank, ${snippetSql(c)} AS snippet,
        (SELECT count(*) FROM w)::int AS window_count, (SELECT min(message_id) FROM w)::text AS window_min
      FROM (
        SELECT r.message_id, r.channel_id, r.body, r.rank FROM r ${keyset}
        ORDER BY r.rank DESC, r.message_id DESC LIMIT ${limit}
      ) s
      ORDER BY s.rank DESC, s.message_id DESC`;
    let floor = window === 'first' ? 0n : window.floor;
    if (window === 'first' && rows[0] && rows[0].window_count >= rankWindow && rows[0].window_min) floor = BigInt(rows[0].window_min);
    return { rows, floor };
  }

  function parseCursor(after: string, sort: IndexQuery['sort']) {
    const v = decodeCursor(after, CURSOR_TAG);
    if (v.s === 'n' && sort === 'newest') return { phase: 'newest' as const, id: cursorId(v.id) };
    if (v.s === 'rt' && sort === 'relevance') return { phase: 'older' as const, id: cursorId(v.id) };
    if (v.s === 'r' && sort === 'relevance' && typeof v.r === 'string' && /^[0-9.eE+-]{1,32}$/.test(v.r) && Number.isFinite(Number(v.r))) {
      return { phase: 'ranked' as const, rank: v.r, id: cursorId(v.id), floor: cursorId(v.f) };
    }
    throw new InvalidCursorError('cursor belongs to another query');
  }

  const index: SearchIndex = {
    kind: 'postgres',

    async init() {
      const ok = await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_ts_config WHERE cfgname = ${opts.language}`;
      if (!ok[0]?.n) {
        throw new Error(`SEARCH_LANGUAGE "${opts.language}" is not a text search configuration of this database (see pg_ts_config)`);
      }
      await prisma.$queryRaw`SELECT 1 FROM search_documents LIMIT 0`;
    },

    async upsert(docs: SearchDocument[]) {
      if (docs.length === 0) return;
      const json = JSON.stringify(
        docs.map((d) => ({
          message_id: d.messageId.toString(),
          channel_id: d.channelId.toString(),
          workspace_id: d.workspaceId.toString(),
          author_id: d.authorId.toString(),
          thread_root_id: d.threadRootId?.toString() ?? null,
          is_thread: d.isThread,
          has_file: d.hasFile,
          has_link: d.hasLink,
          mentioned_user_ids: d.mentionedUserIds.map(String),
          body: d.text,
          created_at: d.createdAt.toISOString(),
        })),
      );
      await prisma.$executeRaw`
        INSERT INTO search_documents AS s (message_id, channel_id, workspace_id, author_id, thread_root_id, is_thread,
          has_file, has_link, mentioned_user_ids, body, tsv, created_at, indexed_at)
        SELECT v.message_id, v.channel_id, v.workspace_id, v.author_id, v.thread_root_id, v.is_thread,
          v.has_file, v.has_link, v.mentioned_user_ids, v.body,
          to_tsvector(${cfg}, v.body) || to_tsvector('simple', v.body), v.created_at, clock_timestamp()
        FROM jsonb_to_recordset(${json}::jsonb) AS v(message_id bigint, channel_id bigint, workspace_id bigint, author_id bigint,
          thread_root_id bigint, is_thread boolean, has_file boolean, has_link boolean, mentioned_user_ids bigint[],
          body text, created_at timestamptz)
        ON CONFLICT (message_id) DO UPDATE SET
          channel_id = EXCLUDED.channel_id, workspace_id = EXCLUDED.workspace_id, author_id = EXCLUDED.author_id,
          thread_root_id = EXCLUDED.thread_root_id, is_thread = EXCLUDED.is_thread, has_file = EXCLUDED.has_file,
          has_link = EXCLUDED.has_link, mentioned_user_ids = EXCLUDED.mentioned_user_ids, body = EXCLUDED.body,
          tsv = EXCLUDED.tsv, created_at = EXCLUDED.created_at, indexed_at = EXCLUDED.indexed_at`;
    },

    async remove(messageIds: bigint[]) {
      if (messageIds.length === 0) return;
      await prisma.$executeRaw`DELETE FROM search_documents WHERE message_id = ANY(${messageIds}::bigint[])`;
    },

    async search(q: IndexQuery): Promise<IndexPage> {
      const cursor = q.after ? parseCursor(q.after, q.sort) : null;
      const c = await compile(q.terms);
      const where = conditions(q, c);
      if (!where) return { hits: [], hasMore: false };
      const want = q.limit + 1;

      // NEWEST, and relevance without words (everything ranks the same) or past the ranked window.
      const byTime = async (below: bigint | null, tag: 'n' | 'rt', limit: number) =>
        (await newest(where, c, limit, below)).map((r) => toHit(r, c, encodeCursor(CURSOR_TAG, { s: tag, id: r.id }), null));

      let hits: IndexHit[];
      if (q.sort === 'newest' || !c.pos) {
        const below = cursor && cursor.phase !== 'ranked' ? cursor.id : null;
        hits = await byTime(below, q.sort === 'newest' ? 'n' : 'rt', want);
      } else if (cursor?.phase === 'older') {
        hits = await byTime(cursor.id, 'rt', want);
      } else {
        const rc = cursor?.phase === 'ranked' ? cursor : null;
        const { rows, floor } = await ranked(where, c, want, rc ? { floor: rc.floor } : 'first', rc ? { rank: rc.rank, id: rc.id } : null);
        const f = floor.toString();
        hits = rows.map((r) => toHit(r, c, encodeCursor(CURSOR_TAG, { s: 'r', r: r.rank!, id: r.id, f }), Number(r.rank)));
        if (hits.length < want && floor > 0n) hits.push(...(await byTime(floor, 'rt', want - hits.length)));
      }
      return { hits: hits.slice(0, q.limit), hasMore: hits.length > q.limit };
    },

    async count(f: IndexFilter, cap: number): Promise<IndexCount> {
      const c = await compile(f.terms);
      const where = conditions(f, c);
      if (!where) return { count: 0, exact: true };
      const [row] = await prisma.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM (SELECT 1 FROM search_documents d WHERE ${Prisma.join(where, ' AND ')} LIMIT ${cap + 1}) x`;
      const n = row?.n ?? 0;
      return n > cap ? { count: cap, exact: false } : { count: n, exact: true };
    },

    async beginRebuild(): Promise<IndexRebuild> {
      // In place: the rebuild rewrites every live document (with the current language); commit
      // sweeps what neither it nor a live write touched since it began (indexed_at is the
      // statement's clock_timestamp()). Searches keep working throughout.
      const [row] = await prisma.$queryRaw<{ t: string }[]>`SELECT clock_timestamp()::text AS t`;
      const startedAt = row!.t;
      return {
        upsert: (docs) => index.upsert(docs),
        async commit() {
          await prisma.$executeRaw`DELETE FROM search_documents WHERE indexed_at < ${startedAt}::timestamptz`;
        },
        async abort() {},
      };
    },

    async close() {
      compiledCache.clear();
    },
  };
  return index;
}
