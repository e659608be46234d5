/**
 * The search box's query language, the one users know from Slack. Pure: no I/O; names of users
 * and channels are resolved to ids later by the search service.
 *
 *   deploy failed           words: all must match (stemmed, and as prefixes of words as written)
 *   "exact phrase"          a phrase; an unclosed quote runs to the end of the query
 *   -word  -"some phrase"   excluded (needs at least one word or phrase to exclude from)
 *   in:#channel  in:<#id>   in a channel (several in: mean any of them); in:@user = DMs with them
 *   from:@user   from:me    by a user: @handle, @name (case, spaces, . _ - ignored), an email, <@id>, me
 *   mentions:@user          mentioning a user (<@id> in the text)
 *   has:file  has:link      with an attached file / a link (-has: for without)
 *   is:thread               thread replies and roots with replies (-is:thread for the rest)
 *   before:2026-11-30       sent before that day (UTC); after:2026-11-30 after that day; on:2026-11-30
 *   -in:#random  -from:@bot excluding a channel / an author
 *
 * Anything else is a literal word, including unknown modifiers (`note:this`, `https://x.y`),
 * SQL or filter syntax. Bad values of known modifiers are BAD_USER_INPUT with a message that says
 * what would work; so are queries that are too long or have too many terms.
 */
import { badInput } from '../errors.js';

export const SEARCH_QUERY_LIMITS = {
  /** In characters (code points) after NFKC normalization. */
  maxLength: 500,
  /** Words and phrases, included or excluded. */
  maxTerms: 16,
  /** Characters in one word. */
  maxWordLength: 100,
  /** Values per modifier kind (in:, from:, mentions:). */
  maxValues: 10,
} as const;

export type UserRef =
  | { kind: 'me' }
  | { kind: 'id'; id: bigint }
  | { kind: 'email'; email: string }
  /**
   * Lower-cased, with whitespace, '.', '_' and '-' removed: "Ann Lee", @ann.lee and @annlee are one
   * name. `handle`: the value lower-cased as written, when it could be a handle (@ann.lee matches the
   * handle ann.lee as well as the name).
   */
  | { kind: 'name'; name: string; handle?: string };

export type ChannelRef =
  | { kind: 'id'; id: bigint }
  /** Lower-cased, without '#'. */
  | { kind: 'name'; name: string }
  /** in:@user: the direct messages the viewer has with that user. */
  | { kind: 'dm'; user: UserRef };

export interface ParsedTerm {
  kind: 'word' | 'phrase';
  text: string;
  negated: boolean;
}

export interface ParsedSearchQuery {
  terms: ParsedTerm[];
  in: ChannelRef[];
  notIn: ChannelRef[];
  from: UserRef[];
  notFrom: UserRef[];
  mentions: UserRef[];
  hasFile: boolean | null;
  hasLink: boolean | null;
  isThread: boolean | null;
  /** Inclusive lower bound (UTC instant): `after:D` is the day after D, `on:D` is D. */
  after: Date | null;
  /** Exclusive upper bound (UTC instant): `before:D` and `on:D` end where D (or D+1) begins. */
  before: Date | null;
}

const MODIFIERS = new Set(['in', 'from', 'mentions', 'has', 'is', 'before', 'after', 'on', 'during']);
const NEGATABLE = new Set(['in', 'from', 'has', 'is']);
const CHANNEL_NAME = /^[\p{Ll}\p{Lo}\p{N}_-]{1,80}$/u;
const HAS_TEXT = /[\p{L}\p{N}]/u;
const SPACE = /\s/u;
const DAY_MS = 86_400_000;

export function normalizeUserName(name: string): string {
  return name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s._-]+/gu, '');
}

const bad = (reason: string, message: string) => badInput(`search/${reason}`, message, { field: 'query' });

/** Parses a search query; throws BAD_USER_INPUT (field "query") for what cannot be searched. */
export function parseSearchQuery(input: string): ParsedSearchQuery {
  const s = input.normalize('NFKC');
  const chars = [...s];
  if (chars.length > SEARCH_QUERY_LIMITS.maxLength) {
    throw bad(
      'query_too_long',
      `the search query must be at most ${SEARCH_QUERY_LIMITS.maxLength} characters (got ${chars.length})`,
    );
  }
  const out: ParsedSearchQuery = {
    terms: [],
    in: [],
    notIn: [],
    from: [],
    notFrom: [],
    mentions: [],
    hasFile: null,
    hasLink: null,
    isThread: null,
    after: null,
    before: null,
  };
  const n = chars.length;
  let i = 0;

  /** Reads a quoted run starting at chars[i] === '"'; an unclosed quote runs to the end. */
  const readQuoted = (): string => {
    i++; // opening quote
    const start = i;
    while (i < n && chars[i] !== '"') i++;
    const text = chars.slice(start, i).join('');
    if (i < n) i++; // closing quote
    return text;
  };

  while (i < n) {
    while (i < n && SPACE.test(chars[i]!)) i++;
    if (i >= n) break;
    let negated = false;
    if (chars[i] === '-' && i + 1 < n && !SPACE.test(chars[i + 1]!)) {
      negated = true;
      i++;
    }
    if (chars[i] === '"') {
      const phrase = readQuoted().trim().replace(/\s+/gu, ' ');
      if (HAS_TEXT.test(phrase)) addTerm(out, { kind: 'phrase', text: phrase, negated });
      continue;
    }
    const start = i;
    while (i < n && !SPACE.test(chars[i]!) && chars[i] !== '"') i++;
    const token = chars.slice(start, i).join('');
    const m = /^([A-Za-z]+):(.*)$/su.exec(token);
    const modifier = m ? m[1]!.toLowerCase() : null;
    if (m && modifier && MODIFIERS.has(modifier)) {
      let value = m[2]!;
      if (value === '' || value === '@' || value === '#') {
        // from:@"Ann Lee", in:"general"
        if (i < n && chars[i] === '"') value += readQuoted();
      }
      applyModifier(out, modifier, value, negated);
      continue;
    }
    const word = token.replace(/^-+/u, ''); // "--x" is "-x": a word never starts with an operator
    if (!HAS_TEXT.test(word)) continue; // punctuation only: nothing to find
    if ([...word].length > SEARCH_QUERY_LIMITS.maxWordLength) {
      throw bad('word_too_long', `search words must be at most ${SEARCH_QUERY_LIMITS.maxWordLength} characters`);
    }
    addTerm(out, { kind: 'word', text: word, negated });
  }
  return out;
}

function addTerm(out: ParsedSearchQuery, term: ParsedTerm) {
  if (out.terms.length >= SEARCH_QUERY_LIMITS.maxTerms) {
    throw bad('too_many_terms', `a search may have at most ${SEARCH_QUERY_LIMITS.maxTerms} words and phrases`);
  }
  out.terms.push(term);
}

function pushValue<T>(list: T[], value: T, modifier: string) {
  if (list.length >= SEARCH_QUERY_LIMITS.maxValues) {
    throw bad('too_many_values', `a search may have at most ${SEARCH_QUERY_LIMITS.maxValues} ${modifier}: values`);
  }
  list.push(value);
}

function applyModifier(out: ParsedSearchQuery, modifier: string, rawValue: string, negated: boolean) {
  const value = rawValue.trim().replace(/^[@#]$/u, '');
  if (negated && !NEGATABLE.has(modifier)) {
    throw bad('bad_modifier', `${modifier}: cannot be negated; only in:, from:, has: and is: can`);
  }
  if (!value) throw bad('empty_modifier', `${modifier}: needs a value, e.g. ${example(modifier)}`);
  switch (modifier) {
    case 'in': {
      const ref = parseChannelRef(value);
      pushValue(negated ? out.notIn : out.in, ref, 'in');
      return;
    }
    case 'from':
      pushValue(negated ? out.notFrom : out.from, parseUserRef(value, 'from'), 'from');
      return;
    case 'mentions':
      pushValue(out.mentions, parseUserRef(value, 'mentions'), 'mentions');
      return;
    case 'has': {
      const v = value.toLowerCase();
      if (v === 'file' || v === 'files') out.hasFile = !negated;
      else if (v === 'link' || v === 'links') out.hasLink = !negated;
      else throw bad('bad_has', `has: takes file or link, not "${clip(value)}"`);
      return;
    }
    case 'is': {
      const v = value.toLowerCase();
      if (v === 'thread' || v === 'threads') out.isThread = !negated;
      else throw bad('bad_is', `is: takes thread, not "${clip(value)}"`);
      return;
    }
    case 'before': {
      const day = parseDay(value, modifier);
      out.before = minDate(out.before, day);
      return;
    }
    case 'after': {
      const day = parseDay(value, modifier);
      out.after = maxDate(out.after, new Date(day.getTime() + DAY_MS));
      return;
    }
    case 'on':
    case 'during': {
      const day = parseDay(value, modifier);
      out.after = maxDate(out.after, day);
      out.before = minDate(out.before, new Date(day.getTime() + DAY_MS));
      return;
    }
  }
}

function example(modifier: string): string {
  switch (modifier) {
    case 'in':
      return 'in:#general';
    case 'from':
    case 'mentions':
      return `${modifier}:@ann`;
    case 'has':
      return 'has:link';
    case 'is':
      return 'is:thread';
    default:
      return `${modifier}:2026-11-30`;
  }
}

const clip = (v: string) => ([...v].length > 40 ? `${[...v].slice(0, 40).join('')}…` : v);

/** <@id>, me / @me, an email address, or a name (@ann, @"Ann Lee", ann.lee). */
export function parseUserRef(value: string, modifier: string): UserRef {
  const idForm = /^<@([0-9]{1,19})>$/.exec(value);
  if (idForm) return { kind: 'id', id: BigInt(idForm[1]!) };
  const v = value.replace(/^@/, '').trim();
  if (/^me$/i.test(v)) return { kind: 'me' };
  if (/^[^\s@]+@[^\s@]+$/.test(v)) return { kind: 'email', email: v.toLowerCase() };
  const name = normalizeUserName(v);
  if (!name || [...name].length > 80)
    throw bad('bad_user', `${modifier}: takes a person, e.g. ${modifier}:@ann or ${modifier}:me`);
  const handle = v.toLowerCase();
  return /^[a-z0-9][a-z0-9._-]{1,31}$/.test(handle) ? { kind: 'name', name, handle } : { kind: 'name', name };
}

/** #name, name, <#id>, <#id|name>, or @user for direct messages. */
export function parseChannelRef(value: string): ChannelRef {
  const idForm = /^<#([0-9]{1,19})(\|[^>]*)?>$/.exec(value);
  if (idForm) return { kind: 'id', id: BigInt(idForm[1]!) };
  if (value.startsWith('@') || value.startsWith('<@')) return { kind: 'dm', user: parseUserRef(value, 'in') };
  const name = value.replace(/^#/, '').toLowerCase();
  if (!CHANNEL_NAME.test(name))
    throw bad('bad_channel', `in: takes a channel name, e.g. in:#general, not "${clip(value)}"`);
  return { kind: 'name', name };
}

/** YYYY-MM-DD, a real calendar day, as its first instant in UTC. */
function parseDay(value: string, modifier: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const date = new Date(Date.UTC(y, mo - 1, d));
    if (y >= 1970 && date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d)
      return date;
  }
  throw bad('bad_date', `${modifier}: takes a date as YYYY-MM-DD, e.g. ${modifier}:2026-11-30, not "${clip(value)}"`);
}

const minDate = (a: Date | null, b: Date) => (a && a.getTime() <= b.getTime() ? a : b);
const maxDate = (a: Date | null, b: Date) => (a && a.getTime() >= b.getTime() ? a : b);

/** True when the query asks for anything at all (a term or any modifier). */
export function hasCriteria(q: ParsedSearchQuery): boolean {
  return (
    q.terms.length > 0 ||
    q.in.length + q.notIn.length + q.from.length + q.notFrom.length + q.mentions.length > 0 ||
    q.hasFile !== null ||
    q.hasLink !== null ||
    q.isThread !== null ||
    q.after !== null ||
    q.before !== null
  );
}
