import { parseId } from '../../infra/ids/snowflake.js';

export interface ParsedMentions {
  userIds: bigint[];
  here: boolean;
  channel: boolean;
}

const MENTION = /<@(\d{1,19})>|<!(here|channel|everyone)>/g;

/**
 * Finds mentions in message source (Slack's wire syntax): `<@userId>`, `<!here>`, `<!channel>`
 * (`<!everyone>` counts as `<!channel>`). The text itself is kept as written.
 */
export function parseMentions(text: string): ParsedMentions {
  const userIds = new Set<bigint>();
  let here = false;
  let channel = false;
  for (const m of text.matchAll(MENTION)) {
    if (m[1]) {
      const id = parseId(m[1]);
      if (id !== null) userIds.add(id);
    } else if (m[2] === 'here') here = true;
    else channel = true;
  }
  return { userIds: [...userIds], here, channel };
}

/** A link in message text: http(s) up to whitespace or Slack's `<url|label>` delimiters. The one rule for links. */
const LINK = /\bhttps?:\/\/[^\s<>|]+/gi;
/** Whether message text carries a link (search's `has:link`). */
export const hasLink = (text: string) => HAS_LINK.test(text);
const HAS_LINK = new RegExp(LINK.source, 'i');

/** Code spans and blocks: links inside them are not unfurled (they are shown as written). */
const CODE = /```[\s\S]*?```|`[^`\n]*`/g;

/**
 * The distinct http(s) links of message text, in order, normalized (WHATWG URL), at most `max`:
 * the ones the unfurl consumer fetches. Trailing punctuation and an unbalanced `)` are not part of
 * a link ("see https://x.com/a." or "(https://x.com/a)"); links in code and with credentials are skipped.
 */
export function extractUrls(text: string, max = Infinity): string[] {
  const out: string[] = [];
  for (const m of text.replace(CODE, ' ').matchAll(LINK)) {
    let raw = m[0].replace(/[.,;:!?'"*_~]+$/, '');
    while (raw.endsWith(')') && (raw.match(/\(/g)?.length ?? 0) < (raw.match(/\)/g)?.length ?? 0))
      raw = raw.slice(0, -1).replace(/[.,;:!?'"*_~]+$/, '');
    const url = normalizeUrl(raw);
    if (url && !out.includes(url)) out.push(url);
    if (out.length >= max) break;
  }
  return out;
}

/** A link as stored and compared: the WHATWG serialization, http(s) only, no credentials, at most 2,048 characters. */
export function normalizeUrl(raw: string): string | null {
  if (raw.length > 2_048) return null;
  try {
    const u = new URL(raw);
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password) return null;
    u.hash = '';
    return u.href.length > 2_048 ? null : u.href;
  } catch {
    return null;
  }
}
