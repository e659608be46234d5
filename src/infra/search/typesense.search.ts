/**
 * Typesense behind the SearchIndex port, through the official `typesense` client.
 *
 *  - One collection per build, reached through an alias (`TYPESENSE_COLLECTION`, default
 *    `messages`): a rebuild fills a fresh collection and swaps the alias, so searches never see a
 *    half-built index. Documents are upserted by message id (`id` = the message id).
 *  - Access control and filters are `filter_by`, built here from ids, booleans and numbers only
 *    (typesenseFilter): nothing the user typed can reach a filter expression. The query text goes
 *    in `q`, rebuilt from parsed terms (typesenseQueryText): words without quotes or leading '-',
 *    "phrases", -exclusions.
 *  - Snowflake ids exceed 2^53: documents are sent as JSONL with ids written as exact integer
 *    literals, filters carry them as digits, and hits are read back from the string fields `id`
 *    and `channel` (JSON numbers would lose precision in the client).
 *  - Searches go through multi_search (a POST body), so long channel lists never hit URL limits.
 */
import { Client, Errors } from 'typesense';
import {
  HL_END,
  HL_START,
  InvalidCursorError,
  cursorId,
  decodeCursor,
  encodeCursor,
  plainExcerpt,
  splitHighlighted,
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

export interface TypesenseSearchOptions {
  url: string;
  apiKey: string;
  /** The alias searches and writes go through; collections are named `<alias>_<timestamp>`. */
  collection: string;
  /** A PostgreSQL-style language name (SEARCH_LANGUAGE), mapped to a Typesense locale. */
  language: string;
  timeoutSeconds?: number;
}

const CURSOR_TAG = 'ts';
const MAX_OFFSET = 10_000;

/** SEARCH_LANGUAGE (PostgreSQL configuration names) to Typesense locales; '' is Typesense's default (English and most Latin scripts). */
const LOCALES: Record<string, string> = {
  english: 'en',
  simple: '',
  german: 'de',
  french: 'fr',
  spanish: 'es',
  italian: 'it',
  portuguese: 'pt',
  dutch: 'nl',
  danish: 'da',
  swedish: 'sv',
  norwegian: 'nb',
  finnish: 'fi',
  russian: 'ru',
  turkish: 'tr',
  greek: 'el',
  hungarian: 'hu',
  romanian: 'ro',
  indonesian: 'id',
  arabic: 'ar',
  hindi: 'hi',
};

export function typesenseCollectionSchema(name: string, language: string) {
  return {
    name,
    fields: [
      { name: 'message_id', type: 'int64' as const, sort: true },
      { name: 'channel_id', type: 'int64' as const },
      { name: 'workspace_id', type: 'int64' as const },
      { name: 'author_id', type: 'int64' as const },
      { name: 'thread_root_id', type: 'int64' as const, optional: true },
      { name: 'is_thread', type: 'bool' as const },
      { name: 'has_file', type: 'bool' as const },
      { name: 'has_link', type: 'bool' as const },
      { name: 'mentioned_user_ids', type: 'int64[]' as const, optional: true },
      { name: 'text', type: 'string' as const, locale: LOCALES[language] ?? '', stem: true },
      { name: 'created_at', type: 'int64' as const },
      // Stored, not indexed: read back exactly (int64 JSON numbers lose precision in JavaScript).
      { name: 'channel', type: 'string' as const, index: false, optional: true },
    ],
    default_sorting_field: 'message_id',
  };
}

/** One JSONL line per document, with int64 fields written as exact integer literals. */
export function typesenseJsonl(docs: SearchDocument[]): string {
  const big = (v: bigint) => `\u0000${v.toString()}\u0000`;
  return docs
    .map((d) =>
      JSON.stringify({
        id: d.messageId.toString(),
        message_id: big(d.messageId),
        channel_id: big(d.channelId),
        workspace_id: big(d.workspaceId),
        author_id: big(d.authorId),
        ...(d.threadRootId !== null ? { thread_root_id: big(d.threadRootId) } : {}),
        is_thread: d.isThread,
        has_file: d.hasFile,
        has_link: d.hasLink,
        mentioned_user_ids: d.mentionedUserIds.map(big),
        text: d.text,
        created_at: d.createdAt.getTime(),
        channel: d.channelId.toString(),
      }).replace(/"\\u0000([0-9]+)\\u0000"/g, '$1'),
    )
    .join('\n');
}

const ids = (list: readonly bigint[]) => `[${list.map((v) => v.toString()).join(',')}]`;

/**
 * filter_by for the access list and filters. Only bigint, boolean and number values are ever
 * written into it. Returns null when nothing can match (an empty list).
 */
export function typesenseFilter(f: IndexFilter, extra: { belowMessageId?: bigint | null } = {}): string | null {
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

interface TsHit {
  document: { id: string; channel?: string; text?: string };
  highlight?: { text?: { snippet?: string } };
  highlights?: { field: string; snippet?: string }[];
  text_match?: number;
}

export function createTypesenseSearchIndex(opts: TypesenseSearchOptions): SearchIndex {
  const client = new Client({
    nodes: [{ url: opts.url.replace(/\/$/, '') }],
    apiKey: opts.apiKey,
    connectionTimeoutSeconds: opts.timeoutSeconds ?? 5,
    numRetries: 1,
    retryIntervalSeconds: 0.1,
    logLevel: 'error',
  });
  const alias = opts.collection;
  let ready: Promise<void> | null = null;

  /** Makes sure the alias points at a collection (first start: `<alias>_v1`). Retried after a failure. */
  function ensureReady(): Promise<void> {
    ready ??= (async () => {
      try {
        await client.aliases(alias).retrieve();
        return;
      } catch (err) {
        if (!(err instanceof Errors.ObjectNotFound)) throw err;
      }
      const name = `${alias}_v1`;
      try {
        await client.collections().create(typesenseCollectionSchema(name, opts.language));
      } catch (err) {
        if (!(err instanceof Errors.ObjectAlreadyExists)) throw err;
      }
      await client.aliases().upsert(alias, { collection_name: name });
    })().catch((err: unknown) => {
      ready = null;
      throw err;
    });
    return ready;
  }

  async function importInto(collection: string, docs: SearchDocument[]) {
    if (docs.length === 0) return;
    const result = await client.collections(collection).documents().import(typesenseJsonl(docs), { action: 'upsert' });
    const failed = result
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { success: boolean; error?: string })
      .filter((r) => !r.success);
    if (failed.length)
      throw new Error(
        `typesense import: ${failed.length} of ${docs.length} documents failed: ${failed[0]?.error ?? '?'}`,
      );
  }

  async function runSearch(params: Record<string, unknown>): Promise<{ found: number; hits: TsHit[] }> {
    await ensureReady();
    const res = (await client.multiSearch.perform({ searches: [{ collection: alias, ...params }] })) as unknown as {
      results: ({ found: number; hits?: TsHit[] } | { error: string; code: number })[];
    };
    const r = res.results[0];
    if (!r) throw new Error('typesense: empty multi_search response');
    if ('error' in r) throw new Error(`typesense search failed (${r.code}): ${r.error}`);
    return { found: r.found, hits: r.hits ?? [] };
  }

  const baseParams = (q: string) => ({
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

  function toHit(h: TsHit, cursor: string, score: number | null): IndexHit {
    const snippet = h.highlight?.text?.snippet ?? h.highlights?.find((x) => x.field === 'text')?.snippet;
    return {
      messageId: BigInt(h.document.id),
      channelId: BigInt(h.document.channel ?? '0'),
      snippet: snippet ? splitHighlighted(snippet) : plainExcerpt(h.document.text ?? ''),
      score,
      cursor,
    };
  }

  const index: SearchIndex = {
    kind: 'typesense',

    init: () => ensureReady(),

    async upsert(docs) {
      await ensureReady();
      await importInto(alias, docs);
    },

    async remove(messageIds) {
      if (messageIds.length === 0) return;
      await ensureReady();
      for (let i = 0; i < messageIds.length; i += 500) {
        await client
          .collections(alias)
          .documents()
          .delete({ filter_by: `message_id:${ids(messageIds.slice(i, i + 500))}` });
      }
    },

    async search(q: IndexQuery): Promise<IndexPage> {
      let below: bigint | null = null;
      let offset = 0;
      if (q.after) {
        const v = decodeCursor(q.after, CURSOR_TAG);
        if (q.sort === 'newest' && v.s === 'n') below = cursorId(v.id);
        else if (
          q.sort === 'relevance' &&
          v.s === 'r' &&
          Number.isInteger(v.o) &&
          (v.o as number) > 0 &&
          (v.o as number) <= MAX_OFFSET
        )
          offset = v.o as number;
        else throw new InvalidCursorError('cursor belongs to another query');
      }
      const filter = typesenseFilter(q, { belowMessageId: below });
      const text = typesenseQueryText(q.terms);
      if (!filter || text === null) return { hits: [], hasMore: false };
      const params = {
        ...baseParams(text),
        filter_by: filter,
        sort_by: q.sort === 'newest' ? 'message_id:desc' : '_text_match:desc,message_id:desc',
        ...(q.sort === 'newest' ? { page: 1, per_page: q.limit + 1 } : { offset, limit: q.limit + 1 }),
      };
      const { hits } = await runSearch(params);
      const page = hits
        .slice(0, q.limit)
        .map((h, i) =>
          q.sort === 'newest'
            ? toHit(h, encodeCursor(CURSOR_TAG, { s: 'n', id: h.document.id }), null)
            : toHit(h, encodeCursor(CURSOR_TAG, { s: 'r', o: offset + i + 1 }), h.text_match ?? null),
        );
      return { hits: page, hasMore: hits.length > q.limit && (q.sort === 'newest' || offset + q.limit < MAX_OFFSET) };
    },

    async count(f: IndexFilter, cap: number): Promise<IndexCount> {
      const filter = typesenseFilter(f);
      const text = typesenseQueryText(f.terms);
      if (!filter || text === null) return { count: 0, exact: true };
      const { found } = await runSearch({ ...baseParams(text), filter_by: filter, per_page: 1, include_fields: 'id' });
      return found > cap ? { count: cap, exact: false } : { count: found, exact: true };
    },

    async beginRebuild(): Promise<IndexRebuild> {
      await ensureReady();
      const name = `${alias}_${Date.now()}`;
      await client.collections().create(typesenseCollectionSchema(name, opts.language));
      return {
        upsert: (docs) => importInto(name, docs),
        async commit() {
          const previous = await client
            .aliases(alias)
            .retrieve()
            .catch(() => null);
          await client.aliases().upsert(alias, { collection_name: name });
          if (previous && previous.collection_name !== name) {
            await client
              .collections(previous.collection_name)
              .delete()
              .catch(() => {});
          }
        },
        async abort() {
          await client
            .collections(name)
            .delete()
            .catch(() => {});
        },
      };
    },

    async close() {},
  };
  return index;
}
