/** PostgreSQL search: parsed terms to tsquery texts (match, exclusion, highlight), with their estimates, cached. */
import { Prisma } from '../../generated/prisma/client.js';
import type { PrismaClient } from '../db/database.js';
import { createLexemeStats, estimateShare } from './postgres.estimate.js';
import { wordTokens, type SearchTerm } from './search-index.port.js';

/** Turns every lexeme of a tsquery's text form into a prefix: 'run' -> 'run':*. */
const PREFIX_PATTERN = "'((?:[^']|'')*)'(:\\*)?";
const PREFIX_REPLACEMENT = "'\\1':*";
const COMPILED_CACHE_SIZE = 1_000;
/** Compiled queries carry row estimates, which follow the data: recompute them after a while. */
const COMPILED_TTL_MS = 5 * 60_000;

export interface Compiled {
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

/** The compiler of one index: `cfg` is the language as a regconfig literal. */
export function createQueryCompiler(prisma: PrismaClient, cfg: Prisma.Sql) {
  const compiledCache = new Map<string, Compiled>();
  const stats = createLexemeStats(prisma, COMPILED_TTL_MS);

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
    const lexemes = await stats.get();
    const compiled: Compiled = {
      pos: row?.pos || null,
      neg: row?.neg || null,
      hl: row?.hl || null,
      ...estimateShare(lexemes, row?.stems ?? [], prefixes),
      docs: lexemes.docs,
      at: Date.now(),
    };
    if (compiledCache.size >= COMPILED_CACHE_SIZE) compiledCache.delete(compiledCache.keys().next().value!);
    compiledCache.set(key, compiled);
    return compiled;
  }

  return {
    compile,
    /** Forgets the compiled queries (the statistics stay cached). */
    clearCompiled() {
      compiledCache.clear();
    },
    /** Forgets the statistics and the compiled queries (after ANALYZE). */
    reset() {
      stats.reset();
      compiledCache.clear();
    },
  };
}
