/**
 * The search index port: where searchable copies of messages live and how they are queried.
 * Adapters: PostgreSQL full-text search (postgres.search.ts, the default, also on PGlite) and
 * Typesense (typesense.search.ts). Both pass the same contract suite
 * (tests/contract/search-index.contract.ts).
 *
 * Guarantees every adapter gives:
 *  - Access control is part of the query. `channelIds` is required; a document whose channel is not
 *    listed is never returned, counted or highlighted. An empty list matches nothing. Pages are
 *    therefore full (up to `limit` hits) and counts honest: nothing is dropped after paging.
 *  - Nothing from a query reaches the backend's query language unescaped: terms travel as bound
 *    parameters or sanitized tokens, filters are built from ids, booleans and numbers only.
 *  - `upsert` is idempotent by `messageId` (the last write wins); `remove` of an absent id is a
 *    no-op. A write is visible to searches once its promise resolves.
 *  - Cursors are opaque strings made by the adapter; a malformed or foreign cursor (another
 *    adapter's, another sort's) raises InvalidCursorError, never a backend error.
 *  - Paging follows the Relay Cursor Connections spec over the sort's one order: `after` and
 *    `before` bound the window (both exclusive, either or both); a page is taken from the window's
 *    start (forward) or its end (`backward`), and its hits are always in the sort's order. A hit's
 *    cursor works as `after` and as `before`.
 *  - Backend failures (down, timeouts) reject with an ordinary Error; the outbox worker retries
 *    writes, and the search service turns read failures into SERVICE_UNAVAILABLE.
 */

/** One searchable message, built from PostgreSQL (the source of truth) by the search service. */
export interface SearchDocument {
  messageId: bigint;
  channelId: bigint;
  workspaceId: bigint;
  authorId: bigint;
  /** The thread root for replies; null for top-level messages. */
  threadRootId: bigint | null;
  /** A reply, or a root that has replies. */
  isThread: boolean;
  hasFile: boolean;
  hasLink: boolean;
  /** Users mentioned with <@id>. */
  mentionedUserIds: bigint[];
  /** The message source, with HL_START / HL_END / LT_MARK removed (see cleanText). */
  text: string;
  createdAt: Date;
}

export interface SearchTerm {
  kind: 'word' | 'phrase';
  /** As the user typed it, without quotes or a leading '-'; never contains '"'. */
  text: string;
  /** Excluded: `-word` or `-"some phrase"`. */
  negated: boolean;
}

export type SearchSortKind = 'relevance' | 'newest';

/** What to match. All lists are already resolved to ids by the search service. */
export interface IndexFilter {
  terms: SearchTerm[];
  /** Readable channels (intersected with any requested ones). Required; empty matches nothing. */
  channelIds: bigint[];
  /** Any of these authors; null = any author. */
  authorIds?: bigint[] | null;
  excludedAuthorIds?: bigint[];
  /** Every group must be matched by at least one mentioned user (AND of ORs). */
  mentionedUserIds?: bigint[][];
  hasFile?: boolean | null;
  hasLink?: boolean | null;
  isThread?: boolean | null;
  /** Inclusive lower bound on message ids (snowflakes are time-ordered). */
  minMessageId?: bigint | null;
  /** Exclusive upper bound on message ids. */
  maxMessageId?: bigint | null;
}

export interface IndexQuery extends IndexFilter {
  sort: SearchSortKind;
  limit: number;
  /** A cursor from a hit of the same query: only hits after it (in the sort's order); null for none. */
  after: string | null;
  /** A cursor from a hit of the same query: only hits before it; null or absent for none. */
  before?: string | null;
  /** Take the page from the end of the window (Relay `last`) instead of its start (`first`). */
  backward?: boolean;
}

export interface SnippetPart {
  text: string;
  highlighted: boolean;
}

export interface IndexHit {
  messageId: bigint;
  channelId: bigint;
  /** A short excerpt of the message around the matches; empty when the message has no text. */
  snippet: SnippetPart[];
  /** Relevance score when sorted by relevance (backend-specific scale), otherwise null. */
  score: number | null;
  /** Pass as `after` to continue after this hit, or as `before` to page back from it. */
  cursor: string;
}

export interface IndexPage {
  /** In the sort's order, whichever end of the window they were taken from. */
  hits: IndexHit[];
  /** More hits in the window beyond this page, in the direction it was taken (forward: after it; backward: before it). */
  hasMore: boolean;
}

export interface IndexCount {
  count: number;
  /** False when counting stopped at the cap: there are at least `count` matches. */
  exact: boolean;
}

/** A full rebuild: fill with upserts, then commit to make it the live index (or abort). */
export interface IndexRebuild {
  upsert(docs: SearchDocument[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface SearchIndex {
  readonly kind: 'postgres' | 'typesense';
  /** Prepares the backend (checks the language, creates the collection); safe to call again. */
  init(): Promise<void>;
  /**
   * Whether the backend answers right now (for /ready): resolves with a short status, rejects
   * with the reason. Cheap: no query of the documents.
   */
  ping(): Promise<string>;
  upsert(docs: SearchDocument[]): Promise<void>;
  remove(messageIds: bigint[]): Promise<void>;
  search(query: IndexQuery): Promise<IndexPage>;
  /** Matches of the filter, counted up to `cap`. */
  count(filter: IndexFilter, cap: number): Promise<IndexCount>;
  /**
   * Starts a rebuild. Live writes keep going to the current index meanwhile; after commit, the
   * caller re-applies what changed since the rebuild began (SearchService.reindex does).
   */
  beginRebuild(): Promise<IndexRebuild>;
  close(): Promise<void>;
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the adapters

/** Private-use characters that mark highlights inside backend output; stripped from documents. */
export const HL_START = '\uE000';
export const HL_END = '\uE001';
/** Stands in for '<' while PostgreSQL's ts_headline runs (its parser drops anything tag-like). */
export const LT_MARK = '\uE002';
const MARKERS = /[\uE000-\uE002]/g;

/** Document text as stored in an index: the marker characters removed. */
export function cleanText(text: string): string {
  return text.replace(MARKERS, '');
}

/** Splits backend output with HL_START/HL_END markers into parts (adjacent parts merged). */
export function splitHighlighted(marked: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  const push = (text: string, highlighted: boolean) => {
    if (!text) return;
    const last = parts.at(-1);
    if (last && last.highlighted === highlighted) last.text += text;
    else parts.push({ text, highlighted });
  };
  let highlighted = false;
  let buf = '';
  for (const ch of marked.replaceAll(LT_MARK, '<')) {
    if (ch === HL_START || ch === HL_END) {
      push(buf, highlighted);
      buf = '';
      highlighted = ch === HL_START;
    } else {
      buf += ch;
    }
  }
  push(buf, highlighted);
  return parts;
}

/** A plain excerpt (no highlights): the start of the text, cut at a word boundary. */
export function plainExcerpt(text: string, maxChars = 240): SnippetPart[] {
  const t = text.trim();
  if (!t) return [];
  if (t.length <= maxChars) return [{ text: t, highlighted: false }];
  const cut = t.slice(0, maxChars);
  const space = cut.lastIndexOf(' ');
  return [{ text: `${(space > maxChars / 2 ? cut.slice(0, space) : cut).trimEnd()} …`, highlighted: false }];
}

/**
 * The letters-and-digits tokens of a word, lower-cased (NFKC). Safe to place inside a backend's
 * query syntax: no quotes, operators, backslashes or spaces can survive.
 */
export function wordTokens(word: string): string[] {
  return (
    word
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/** Cursor encoding shared by adapters: base64url JSON with a tag naming the adapter and sort. */
export function encodeCursor(tag: string, body: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify({ t: tag, ...body })).toString('base64url');
}

/** Decodes a cursor made by encodeCursor with this tag; throws InvalidCursorError otherwise. */
export function decodeCursor(cursor: string, tag: string): Record<string, unknown> {
  if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError('malformed cursor');
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('malformed cursor');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v) || (v as { t?: unknown }).t !== tag) {
    throw new InvalidCursorError('cursor belongs to another query');
  }
  return v as Record<string, unknown>;
}

/** A positive id from a cursor field (decimal string), or InvalidCursorError. */
export function cursorId(v: unknown): bigint {
  if (typeof v !== 'string' || !/^[0-9]{1,19}$/.test(v)) throw new InvalidCursorError('malformed cursor');
  const id = BigInt(v);
  if (id > 9223372036854775807n) throw new InvalidCursorError('malformed cursor');
  return id;
}
