/** PostgreSQL search: row estimates from pg_stats' lexeme frequencies (the plan choice reads them). */
import type { PrismaClient } from '../db/database.js';

/** pg_stats' most common lexemes of search_documents.tsv, for estimates. */
export interface LexemeStats {
  freq: Map<string, number>;
  sorted: string[];
  /** Frequency assumed for a lexeme that is not among the most common. */
  rare: number;
  docs: number;
  at: number;
}

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

/** A cache of lexemeStats, kept for `ttlMs`; reset() forgets it (after ANALYZE). */
export function createLexemeStats(prisma: PrismaClient, ttlMs: number) {
  let statsCache: LexemeStats | null = null;
  /** The most common lexemes and their frequencies (pg_stats, refreshed by ANALYZE), cached for a while. */
  async function lexemeStats(): Promise<LexemeStats> {
    if (statsCache && Date.now() - statsCache.at < ttlMs) return statsCache;
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
  return {
    get: lexemeStats,
    reset() {
      statsCache = null;
    },
  };
}

/**
 * The share of documents matching all positive terms, assuming independence (as the planner
 * does): a word matches its stem's lexemes or any lexeme starting with one of its tokens (summed
 * over the most common lexemes; the planner would guess a constant for prefixes, which sends rare
 * words down a walk over the whole table and common ones into a huge bitmap).
 */
export function estimateShare(
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
