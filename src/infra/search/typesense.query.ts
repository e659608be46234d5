/** Typesense search: filter_by, q and the shared search parameters (never built from user text). */
import { HL_END, HL_START, type IndexFilter, type SearchTerm } from './search-index.port.js';

export const ids = (list: readonly bigint[]) => `[${list.map((v) => v.toString()).join(',')}]`;

/**
 * filter_by for the access list and filters. Only bigint, boolean and number values are ever
 * written into it. Returns null when nothing can match (an empty list).
 */
export function typesenseFilter(
  f: IndexFilter,
  extra: { belowMessageId?: bigint | null; aboveMessageId?: bigint | null } = {},
): string | null {
  if (f.channelIds.length === 0) return null;
  if (f.authorIds && f.authorIds.length === 0) return null;
  if (f.mentionedUserIds?.some((g) => g.length === 0)) return null;
  const parts = [`channel_id:${ids(f.channelIds)}`];
  if (f.authorIds) parts.push(`author_id:${ids(f.authorIds)}`);
  for (const a of f.excludedAuthorIds ?? []) parts.push(`author_id:!=${a.toString()}`);
  for (const g of f.mentionedUserIds ?? []) parts.push(`mentioned_user_ids:${ids(g)}`);
  if (f.hasFile != null) parts.push(`has_file:${f.hasFile ? 'true' : 'false'}`);
  if (f.hasLink != null) parts.push(`has_link:${f.hasLink ? 'true' : 'false'}`);
  if (f.isThread != null) parts.push(`is_thread:${f.isThread ? 'true' : 'false'}`);
  if (f.minMessageId != null) parts.push(`message_id:>=${f.minMessageId.toString()}`);
  if (f.maxMessageId != null) parts.push(`message_id:<${f.maxMessageId.toString()}`);
  if (extra.belowMessageId != null) parts.push(`message_id:<${extra.belowMessageId.toString()}`);
  if (extra.aboveMessageId != null) parts.push(`message_id:>${extra.aboveMessageId.toString()}`);
  return parts.join(' && ');
}

/**
 * `q` from parsed terms: words (no quotes, no leading '-'), "phrases", -exclusions. '*' when
 * there are no positive terms at all (filters only); null when there were positive terms but none
 * has a letter or digit left (nothing can match: never let such a query become '*').
 */
export function typesenseQueryText(terms: SearchTerm[]): string | null {
  const clean = (s: string) =>
    s
      .replace(/["\s]+/gu, ' ')
      .trim()
      .replace(/^-+/u, '');
  const hasText = (s: string) => /[\p{L}\p{N}]/u.test(s);
  const parts: string[] = [];
  let positives = 0;
  for (const t of terms) {
    if (!t.negated) positives++;
    const text = clean(t.text);
    if (!hasText(text)) continue;
    const body = t.kind === 'phrase' ? `"${text}"` : text;
    parts.push(t.negated ? `-${body}` : body);
  }
  const positive = parts.filter((p) => !p.startsWith('-'));
  if (positives > 0) return positive.length ? parts.join(' ') : null;
  // Typesense cannot exclude from '*'; the search service never sends exclusions alone.
  if (parts.length) throw new Error('typesense: excluded terms need at least one word or phrase to search for');
  return '*';
}

/** The search parameters every query shares: `q` matched against the text, highlighted. */
export const baseParams = (q: string) => ({
  q,
  query_by: 'text',
  prefix: true,
  drop_tokens_threshold: 0, // every word must match: never silently drop words
  highlight_fields: 'text',
  highlight_start_tag: HL_START,
  highlight_end_tag: HL_END,
  highlight_affix_num_tokens: 8,
  snippet_threshold: 40,
  include_fields: 'id,channel,text',
});
