/** PostgreSQL search: the WHERE clause, the walk-or-bitmap collection of matches, and the ranked window. */
import { Prisma } from '../../generated/prisma/client.js';
import type { PrismaClient } from '../db/database.js';
import type { Compiled } from './postgres.tsquery.js';
import type { IndexFilter } from './search-index.port.js';

export interface Found {
  id: string;
  channel_id: string;
  /** ts_rank_cd as float4 text, when asked for. */
  rank?: string;
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
export function conditions(f: IndexFilter, c: Compiled): { scope: Prisma.Sql[]; text: Prisma.Sql[] } | null {
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
export type Where = NonNullable<ReturnType<typeof conditions>>;
export const and = (parts: Prisma.Sql[]) => Prisma.join(parts, ' AND ');

/** Which way a walk over message ids goes: 'desc' newest first (the default), 'asc' oldest first. */
export type Direction = 'desc' | 'asc';
const ORDER = { desc: Prisma.raw('DESC'), asc: Prisma.raw('ASC') } as const;
/** Only ids past `id` in the walk's direction (below it walking desc, above it walking asc). */
const past = (parts: Prisma.Sql[], id: bigint | null, dir: Direction) =>
  id === null
    ? parts
    : [...parts, dir === 'desc' ? Prisma.sql`d.message_id < ${id}` : Prisma.sql`d.message_id > ${id}`];

/** The read side of one index: RELEVANCE ranks at most the newest `rankWindow` matches. */
export function createPostgresReader(prisma: PrismaClient, rankWindow: number) {
  /**
   * The first `need` matches past `from` in direction `dir` (default: the newest below `from`,
   * newest first; 'asc': the oldest above it, oldest first), with their rank when `withRank`.
   * Walks or takes the bitmap, whichever bitmapCheaper says.
   */
  async function collect(
    w: Where,
    c: Compiled,
    need: number,
    from: bigint | null,
    withRank = false,
    dir: Direction = 'desc',
  ): Promise<Found[]> {
    const order = ORDER[dir];
    if (w.text.length === 0) {
      // Filters only: the planner's estimates are good, let it pick the ordered index.
      return prisma.$queryRaw<Found[]>`
        SELECT d.message_id::text AS id, d.channel_id::text AS channel_id FROM search_documents d
        WHERE ${and(past(w.scope, from, dir))} ORDER BY d.message_id ${order} LIMIT ${need}`;
    }
    const rank = withRank && c.pos ? Prisma.sql`ts_rank_cd(d.tsv, ${c.pos}::tsquery)::text` : Prisma.sql`NULL::text`;
    if (bitmapCheaper(c, need)) {
      // (message_id + 0) keeps ordered index walks out of the plan: the GIN bitmap it is.
      const rows = await prisma.$queryRaw<Found[]>`
        SELECT d.message_id::text AS id, d.channel_id::text AS channel_id, ${rank} AS rank FROM search_documents d
        WHERE ${and(past([...w.scope, ...w.text], from, dir))}
        ORDER BY (d.message_id + 0) ${order} LIMIT ${need}`;
      return rows;
    }
    // Galloping walk: chunks of the scope in the walk's direction, each a bounded ordered-index
    // scan (an index-only scan of (channel_id, message_id) INCLUDE (tsv) when the scope is a few
    // channels).
    const found: Found[] = [];
    let bound = from;
    // Start small and gallop: an extra round trip is cheap, a chunk far too large is not (every hit
    // in it is tested and ranked).
    let chunk = Math.round(Math.min(Math.max((1.2 * need) / Math.max(c.share, 1e-9), 128), 8_000));
    let walked = 0;
    // Past a few times the expected walk, the estimate was wrong (a word absent from the newest rows,
    // a phrase of common but rarely adjacent words): the bitmap finishes the job.
    const budget = Math.min(200_000, Math.max(2_000, (4 * need) / Math.max(c.share, 1e-9)));
    const edge = dir === 'desc' ? Prisma.sql`min(x.message_id)` : Prisma.sql`max(x.message_id)`;
    for (;;) {
      // One pass over the chunk: the match test (and rank) run in the scan, nothing is materialized.
      const [row] = await prisma.$queryRaw<{ n: number; boundary: string | null; hits: string[] | null }[]>`
        SELECT count(*)::int AS n, ${edge}::text AS boundary,
          array_agg(x.message_id::text || ':' || x.channel_id::text || ':' || coalesce(x.rank, '') ORDER BY x.message_id ${order}) FILTER (WHERE x.hit) AS hits
        FROM (
          SELECT d.message_id, d.channel_id, y.hit, CASE WHEN y.hit THEN ${rank} END AS rank
          FROM search_documents d CROSS JOIN LATERAL (SELECT (${and(w.text)}) AS hit) y
          WHERE ${and(past(w.scope, bound, dir))} ORDER BY d.message_id ${order} LIMIT ${chunk}
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
          WHERE ${and(past([...w.scope, ...w.text], bound, dir))}
          ORDER BY (d.message_id + 0) ${order} LIMIT ${need - found.length}`;
        return [...found, ...rest];
      }
      chunk = Math.min(chunk * 4, 100_000);
    }
  }

  /**
   * The ranked window, best first (rank, then id, descending), with its floor: on the first page
   * the newest rankWindow matches (floor = the oldest of them, or 0 when there are fewer), on
   * later pages every match with id >= floor. Ranks are computed where the rows are read (the
   * walk or the bitmap); the order is made here, and the caller takes its page from either end.
   */
  async function rankedWindow(
    w: Where,
    c: Compiled,
    window: { floor: bigint } | 'first',
  ): Promise<{ list: (Found & { rank: string })[]; floor: bigint }> {
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
    const list = hits.map((h) => ({ ...h, rank: h.rank ?? '0' }));
    list.sort((a, b) => compareRanked(a.rank, BigInt(a.id), b.rank, BigInt(b.id)));
    return { list, floor };
  }

  return { collect, rankedWindow };
}

/** The ranked order: negative when (rank a, id a) comes first (higher rank, then higher id). */
export function compareRanked(rankA: string, idA: bigint, rankB: string, idB: bigint): number {
  const ra = Number(rankA);
  const rb = Number(rankB);
  if (ra !== rb) return rb - ra;
  return idA > idB ? -1 : idA < idB ? 1 : 0;
}
