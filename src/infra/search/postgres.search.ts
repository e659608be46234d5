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
  /** RELEVANCE ranks at most this many of the newest matches (default 500). */
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
/** Compiled queries carry row estimates, which follow the data: recompute them after a while. */
const COMPILED_TTL_MS = 5 * 60_000;

interface Compiled {
  /** Documents must match this (null: no positive terms). */
  pos: string | null;
  /** Documents must not match this. */
  neg: string | null;
  /** For ts_headline under 'simple' (an OR of the positive terms, as prefixes). */
  hl: string | null;
  /**
   * Estimated share of documents that match (0..1), from pg_stats' lexeme frequencies, prefixes
   * included (see estimateShare); with `docs` it decides the plan shape.
   */
  share: number;
  /** Sum over the positive terms of each term's share: the posting lists a bitmap reads. */
  postings: number;
  docs: number;
  at: number;
}

/** pg_stats' most common lexemes of search_documents.tsv, for estimates. */
interface LexemeStats {
  freq: Map<string, number>;
  sorted: string[];
  /** Frequency assumed for a lexeme that is not among the most common. */
  rare: number;
  docs: number;
  at: number;
}

type Row = { id: string; channel_id: string; snippet: string | null; rank?: string | null };

function lowerBound(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function createPostgresSearchIndex(opts: PostgresSearchOptions): SearchIndex {
  const { prisma } = opts;
  if (!LANGUAGE.test(opts.language))
    throw new Error(`search language must be a text search configuration name, got "${opts.language}"`);
  const cfg = Prisma.raw(`'${opts.language}'::regconfig`);
  const rankWindow = opts.rankWindow ?? 500;
  const compiledCache = new Map<string, Compiled>();

  /** Turns the terms into tsquery texts, in one round trip (cached: the result depends on the terms only). */
  async function compile(terms: SearchTerm[]): Promise<Compiled> {
    if (terms.length === 0) return { pos: null, neg: null, hl: null, share: 1, postings: 0, docs: 0, at: Date.now() };
    const key = JSON.stringify(terms);
    const hit = compiledCache.get(key);
    if (hit && Date.now() - hit.at < COMPILED_TTL_MS) return hit;

    const main: Prisma.Sql[] = [];
    const stems: Prisma.Sql[] = [];
    const prefixes: string[][] = []; // per positive term, parallel to stems ([] for phrases)
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
        stems.push(stem);
        prefixes.push(tokens);
        fallback.push(prefix);
        highlight.push(
          Prisma.sql`(regexp_replace(${stem}::text, ${PREFIX_PATTERN}, ${PREFIX_REPLACEMENT}, 'g')::tsquery || ${prefix})`,
        );
      } else {
        const stem = Prisma.sql`websearch_to_tsquery(${cfg}, ${`"${t.text}"`})`;
        if (t.negated) {
          negative.push(stem);
          continue;
        }
        const simple = Prisma.sql`phraseto_tsquery('simple', ${t.text})`;
        main.push(stem);
        stems.push(stem);
        prefixes.push([]);
        fallback.push(simple);
        highlight.push(
          Prisma.sql`(regexp_replace(${stem}::text, ${PREFIX_PATTERN}, ${PREFIX_REPLACEMENT}, 'g')::tsquery || ${simple})`,
        );
      }
    }
    const all = (list: Prisma.Sql[], op: string) =>
      list.length ? Prisma.join(list, ` ${op} `) : Prisma.sql`''::tsquery`;
    const stemArray = stems.length
      ? Prisma.sql`ARRAY[${Prisma.join(
          stems.map((x) => Prisma.sql`(${x})::text`),
          ', ',
        )}]`
      : Prisma.sql`ARRAY[]::text[]`;
    const [row] = await prisma.$queryRaw<{ pos: string; neg: string; hl: string; stems: string[] }[]>`
      SELECT q.pos::text AS pos, q.neg::text AS neg, q.hl::text AS hl, q.stems FROM (
        SELECT CASE WHEN numnode(p.main) = 0 THEN p.fb ELSE p.main END AS pos, p.neg, p.hl, p.stems FROM (
          SELECT ${all(main, '&&')} AS main, ${stemArray} AS stems, ${all(fallback, '&&')} AS fb,
            ${all(negative, '||')} AS neg, ${all(highlight, '||')} AS hl
        ) p
      ) q`;
    const stats = await lexemeStats();
    const compiled: Compiled = {
      pos: row?.pos || null,
      neg: row?.neg || null,
      hl: row?.hl || null,
      ...estimateShare(stats, row?.stems ?? [], prefixes),
      docs: stats.docs,
      at: Date.now(),
    };
    if (compiledCache.size >= COMPILED_CACHE_SIZE) compiledCache.delete(compiledCache.keys().next().value!);
    compiledCache.set(key, compiled);
    return compiled;
  }

  let statsCache: LexemeStats | null = null;
  /** The most common lexemes and their frequencies (pg_stats, refreshed by ANALYZE), cached for a while. */
  async function lexemeStats(): Promise<LexemeStats> {
    if (statsCache && Date.now() - statsCache.at < COMPILED_TTL_MS) return statsCache;
    const [row] = await prisma.$queryRaw<{ elems: string[] | null; freqs: number[] | null; docs: number }[]>`
      SELECT (SELECT most_common_elems::text::text[] FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'search_documents' AND attname = 'tsv') AS elems,
        (SELECT most_common_elem_freqs::float8[] FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'search_documents' AND attname = 'tsv') AS freqs,
        (SELECT reltuples::float8 FROM pg_class WHERE oid = 'search_documents'::regclass) AS docs`;
    const elems = row?.elems ?? [];
    const freqs = (row?.freqs ?? []).map(Number);
    const freq = new Map<string, number>();
    elems.forEach((e, i) => freq.set(e, freqs[i] ?? 0));
    // After the per-element frequencies come the minimum, the maximum and the null share.
    const minFreq = freqs.length > elems.length ? (freqs[elems.length] ?? 0) : 0;
    statsCache = {
      freq,
      sorted: [...elems].sort(),
      // No statistics yet (never analyzed, e.g. a fresh embedded database): assume a middling share.
      rare: elems.length ? minFreq / 2 : 0.02,
      docs: Math.max(0, Number(row?.docs ?? 0)),
      at: Date.now(),
    };
    return statsCache;
  }

  /**
   * The share of documents matching all positive terms, assuming independence (as the planner
   * does): a word matches its stem's lexemes or any lexeme starting with one of its tokens (summed
   * over the most common lexemes; the planner would guess a constant for prefixes, which sends rare
   * words down a walk over the whole table and common ones into a huge bitmap).
   */
  function estimateShare(
    stats: LexemeStats,
    stems: string[],
    prefixes: string[][],
  ): { share: number; postings: number } {
    const lexemes = (tsquery: string) =>
      [...tsquery.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replaceAll("''", "'"));
    const f = (lexeme: string) => stats.freq.get(lexeme) ?? stats.rare;
    const prefixShare = (token: string) => {
      let sum = 0;
      let i = lowerBound(stats.sorted, token);
      for (; i < stats.sorted.length && stats.sorted[i]!.startsWith(token); i++)
        sum += stats.freq.get(stats.sorted[i]!) ?? 0;
      return Math.min(1, sum || stats.rare);
    };
    let share = 1;
    let postings = 0;
    stems.forEach((stem, i) => {
      const ls = lexemes(stem);
      const tokens = prefixes[i] ?? [];
      // A phrase (no prefixes) also needs its words adjacent: assume a quarter of the co-occurrences.
      const stemShare = ls.length
        ? ls.reduce((acc, l) => acc * f(l), 1) * (tokens.length === 0 && ls.length > 1 ? 0.25 : 1)
        : 0;
      const pre = tokens.length ? tokens.reduce((acc, t) => acc * ([...t].length >= 2 ? prefixShare(t) : f(t)), 1) : 0;
      const term = Math.max(stemShare, pre, stats.rare);
      share *= term;
      postings +=
        ls.reduce((acc, l) => acc + f(l), 0) +
        tokens.reduce((acc, t) => acc + ([...t].length >= 2 ? prefixShare(t) : f(t)), 0);
    });
    return { share: Math.min(1, share), postings };
  }

  /**
   * How to find the newest `need` matches: walk the scope newest first (ordered index: pkey,
   * channel or author) testing each row, or take the GIN bitmap of all matches and sort it. In
   * rows touched: a walk costs about need / share rows; a bitmap reads every posting of every term
   * plus a heap visit and recheck per match (about 13 walk rows each, measured). The estimate is
   * ours (estimateShare) because the planner guesses a constant for prefix queries ('x':*), which
   * sends rare words down a walk over the whole table and common ones into a huge bitmap.
   */
  function bitmapCheaper(c: Compiled, need: number): boolean {
    if (c.pos === null || c.docs <= 0) return false;
    const matches = c.share * c.docs;
    const walk = Math.min(c.docs, need / Math.max(c.share, 1e-9));
    return c.postings * c.docs + 13 * matches < walk;
  }

  /** The WHERE clause shared by search and count, split into the scope (no text) and the text match; null when nothing can match. */
  function conditions(f: IndexFilter, c: Compiled): { scope: Prisma.Sql[]; text: Prisma.Sql[] } | null {
    if (f.channelIds.length === 0) return null;
    if (f.authorIds && f.authorIds.length === 0) return null;
    if (f.mentionedUserIds?.some((g) => g.length === 0)) return null;
    if (c.pos === null && f.terms.some((t) => !t.negated)) return null; // only punctuation: nothing to find
    const scope: Prisma.Sql[] = [Prisma.sql`d.channel_id = ANY(${f.channelIds}::bigint[])`];
    const text: Prisma.Sql[] = [];
    if (c.pos) text.push(Prisma.sql`d.tsv @@ ${c.pos}::tsquery`);
    if (c.neg) text.push(Prisma.sql`NOT (d.tsv @@ ${c.neg}::tsquery)`);
    if (f.authorIds) scope.push(Prisma.sql`d.author_id = ANY(${f.authorIds}::bigint[])`);
    if (f.excludedAuthorIds?.length) scope.push(Prisma.sql`NOT (d.author_id = ANY(${f.excludedAuthorIds}::bigint[]))`);
    for (const group of f.mentionedUserIds ?? []) scope.push(Prisma.sql`d.mentioned_user_ids && ${group}::bigint[]`);
    if (f.hasFile != null) scope.push(Prisma.sql`d.has_file = ${f.hasFile}`);
    if (f.hasLink != null) scope.push(Prisma.sql`d.has_link = ${f.hasLink}`);
    if (f.isThread != null) scope.push(Prisma.sql`d.is_thread = ${f.isThread}`);
    if (f.minMessageId != null) scope.push(Prisma.sql`d.message_id >= ${f.minMessageId}`);
    if (f.maxMessageId != null) scope.push(Prisma.sql`d.message_id < ${f.maxMessageId}`);
    return { scope, text };
  }
  type Where = NonNullable<ReturnType<typeof conditions>>;
  const and = (parts: Prisma.Sql[]) => Prisma.join(parts, ' AND ');
  const below = (parts: Prisma.Sql[], id: bigint | null) =>
    id === null ? parts : [...parts, Prisma.sql`d.message_id < ${id}`];

  interface Found {
    id: string;
    channel_id: string;
    /** ts_rank_cd as float4 text, when asked for. */
    rank?: string;
  }

  /**
   * The newest `need` matches with id < `before`, newest first (with their rank when `withRank`).
   * Walks or takes the bitmap, whichever bitmapCheaper says.
   */
  async function collect(
    w: Where,
    c: Compiled,
    need: number,
    before: bigint | null,
    withRank = false,
  ): Promise<Found[]> {
    if (w.text.length === 0) {
      // Filters only: the planner's estimates are good, let it pick the ordered index.
      return prisma.$queryRaw<Found[]>`
        SELECT d.message_id::text AS id, d.channel_id::text AS channel_id FROM search_documents d
        WHERE ${and(below(w.scope, before))} ORDER BY d.message_id DESC LIMIT ${need}`;
    }
    const rank = withRank && c.pos ? Prisma.sql`ts_rank_cd(d.tsv, ${c.pos}::tsquery)::text` : Prisma.sql`NULL::text`;
    if (bitmapCheaper(c, need)) {
      // (message_id + 0) keeps ordered index walks out of the plan: the GIN bitmap it is.
      const rows = await prisma.$queryRaw<Found[]>`
        SELECT d.message_id::text AS id, d.channel_id::text AS channel_id, ${rank} AS rank FROM search_documents d
        WHERE ${and(below([...w.scope, ...w.text], before))}
        ORDER BY (d.message_id + 0) DESC LIMIT ${need}`;
      return rows;
    }
    // Galloping walk: chunks of the scope, newest first, each a bounded ordered-index scan (an
    // index-only scan of (channel_id, message_id) INCLUDE (tsv) when the scope is a few channels).
    const found: Found[] = [];
    let bound = before;
    // Start small and gallop: an extra round trip is cheap, a chunk far too large is not (every hit
    // in it is tested and ranked).
    let chunk = Math.round(Math.min(Math.max((1.2 * need) / Math.max(c.share, 1e-9), 128), 8_000));
    let walked = 0;
    // Past a few times the expected walk, the estimate was wrong (a word absent from the newest rows,
    // a phrase of common but rarely adjacent words): the bitmap finishes the job.
    const budget = Math.min(200_000, Math.max(2_000, (4 * need) / Math.max(c.share, 1e-9)));
    for (;;) {
      // One pass over the chunk: the match test (and rank) run in the scan, nothing is materialized.
      const [row] = await prisma.$queryRaw<{ n: number; boundary: string | null; hits: string[] | null }[]>`
        SELECT count(*)::int AS n, min(x.message_id)::text AS boundary,
          array_agg(x.message_id::text || ':' || x.channel_id::text || ':' || coalesce(x.rank, '') ORDER BY x.message_id DESC) FILTER (WHERE x.hit) AS hits
        FROM (
          SELECT d.message_id, d.channel_id, y.hit, CASE WHEN y.hit THEN ${rank} END AS rank
          FROM search_documents d CROSS JOIN LATERAL (SELECT (${and(w.text)}) AS hit) y
          WHERE ${and(below(w.scope, bound))} ORDER BY d.message_id DESC LIMIT ${chunk}
        ) x`;
      for (const h of (row?.hits ?? []).slice(0, need - found.length)) {
        const [id, channel_id, r] = h.split(':') as [string, string, string];
        found.push(r ? { id, channel_id, rank: r } : { id, channel_id });
      }
      const scanned = row?.n ?? 0;
      if (found.length >= need || scanned < chunk || !row?.boundary) return found;
      walked += scanned;
      bound = BigInt(row.boundary);
      if (walked >= budget) {
        const rest = await prisma.$queryRaw<Found[]>`
          SELECT d.message_id::text AS id, d.channel_id::text AS channel_id, ${rank} AS rank FROM search_documents d
          WHERE ${and(below([...w.scope, ...w.text], bound))}
          ORDER BY (d.message_id + 0) DESC LIMIT ${need - found.length}`;
        return [...found, ...rest];
      }
      chunk = Math.min(chunk * 4, 100_000);
    }
  }

  /** Snippets for the given hits (in their order). */
  async function withSnippets(c: Compiled, ids: Found[]): Promise<Row[]> {
    if (ids.length === 0) return [];
    const rows = await prisma.$queryRaw<{ id: string; snippet: string | null }[]>`
      SELECT s.message_id::text AS id, ${snippetSql(c)} AS snippet FROM search_documents s
      WHERE s.message_id = ANY(${ids.map((r) => BigInt(r.id))}::bigint[])`;
    const byId = new Map(rows.map((r) => [r.id, r.snippet]));
    return ids.filter((r) => byId.has(r.id)).map((r) => ({ ...r, snippet: byId.get(r.id) ?? null }));
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

  async function newest(w: Where, c: Compiled, limit: number, before: bigint | null): Promise<Row[]> {
    return withSnippets(c, await collect(w, c, limit, before));
  }

  /**
   * Ranked matches of the window: on the first page the newest rankWindow matches (floor = the
   * oldest of them, or 0 when there are fewer), on later pages every match with id >= floor. Ranks
   * are computed where the rows are read (the walk or the bitmap), ordering and the keyset in here.
   */
  async function ranked(
    w: Where,
    c: Compiled,
    limit: number,
    window: { floor: bigint } | 'first',
    after: { rank: string; id: bigint } | null,
  ): Promise<{ rows: Row[]; floor: bigint }> {
    let hits: Found[];
    let floor: bigint;
    if (window === 'first') {
      hits = await collect(w, c, rankWindow, null, true);
      floor = hits.length >= rankWindow ? BigInt(hits.at(-1)!.id) : 0n;
    } else {
      floor = window.floor;
      hits = await collect(
        { scope: [...w.scope, Prisma.sql`d.message_id >= ${floor}`], text: w.text },
        c,
        100_000,
        null,
        true,
      );
    }
    const score = (h: Found) => Number(h.rank ?? 0);
    const key = (h: Found): [number, bigint] => [score(h), BigInt(h.id)];
    let list = hits.map((h) => ({ h, k: key(h) }));
    if (after) {
      const r = Number(after.rank);
      list = list.filter(({ k }) => k[0] < r || (k[0] === r && k[1] < after.id));
    }
    list.sort((a, b) => b.k[0] - a.k[0] || (b.k[1] > a.k[1] ? 1 : b.k[1] < a.k[1] ? -1 : 0));
    const top = list.slice(0, limit).map(({ h }) => h);
    const rows = await withSnippets(c, top);
    const rankOf = new Map(top.map((h) => [h.id, h.rank ?? '0']));
    return { rows: rows.map((r) => ({ ...r, rank: rankOf.get(r.id) ?? '0' })), floor };
  }

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

  const index: SearchIndex = {
    kind: 'postgres',

    async init() {
      const ok = await prisma.$queryRaw<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM pg_ts_config WHERE cfgname = ${opts.language}`;
      if (!ok[0]?.n) {
        throw new Error(
          `SEARCH_LANGUAGE "${opts.language}" is not a text search configuration of this database (see pg_ts_config)`,
        );
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
      const [row] = await prisma.$queryRaw<{ t: string }[]>`SELECT clock_timestamp()::text AS t`;
      const startedAt = row!.t;
      // Every write from now on must be stamped strictly later (clocks can be coarse, e.g. PGlite's).
      for (let i = 0; i < 100; i++) {
        const [later] = await prisma.$queryRaw<
          { ok: boolean }[]
        >`SELECT clock_timestamp() > ${startedAt}::timestamptz AS ok`;
        if (later?.ok) break;
        await new Promise((r) => setTimeout(r, 1));
      }
      return {
        upsert: (docs) => index.upsert(docs),
        async commit() {
          await prisma.$executeRaw`DELETE FROM search_documents WHERE indexed_at <= ${startedAt}::timestamptz`;
          // Fresh statistics: the plan choice (estimateShare) reads them.
          await prisma.$executeRawUnsafe('ANALYZE search_documents');
          statsCache = null;
          compiledCache.clear();
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
