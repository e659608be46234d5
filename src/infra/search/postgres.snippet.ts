/** PostgreSQL search: snippets (ts_headline highlighting) and the hits built from them. */
import { Prisma } from '../../generated/prisma/client.js';
import type { PrismaClient } from '../db/database.js';
import type { Found } from './postgres.query.js';
import type { Compiled } from './postgres.tsquery.js';
import { HL_END, HL_START, LT_MARK, plainExcerpt, splitHighlighted, type IndexHit } from './search-index.port.js';

/** Shorter bodies are returned whole (highlighted); longer ones as fragments around the matches. */
const WHOLE_BODY_CHARS = 280;
const HEADLINE_WHOLE = `HighlightAll=true, StartSel=${HL_START}, StopSel=${HL_END}`;
const HEADLINE_FRAGMENTS = `MaxFragments=2, MaxWords=18, MinWords=6, ShortWord=2, FragmentDelimiter=" … ", StartSel=${HL_START}, StopSel=${HL_END}`;

export type Row = { id: string; channel_id: string; snippet: string | null; rank?: string | null };

/** Snippets for the given hits (in their order). */
export async function withSnippets(prisma: PrismaClient, c: Compiled, ids: Found[]): Promise<Row[]> {
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

export function toHit(r: Row, c: Compiled, cursor: string, score: number | null): IndexHit {
  const text = r.snippet ?? '';
  return {
    messageId: BigInt(r.id),
    channelId: BigInt(r.channel_id),
    snippet: c.hl ? splitHighlighted(text) : plainExcerpt(text),
    score,
    cursor,
  };
}
