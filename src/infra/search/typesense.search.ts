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
import { toHit, type TsHit } from './typesense.hits.js';
import { baseParams, ids, typesenseFilter, typesenseQueryText } from './typesense.query.js';
import { typesenseCollectionSchema, typesenseJsonl } from './typesense.schema.js';
import {
  InvalidCursorError,
  cursorId,
  decodeCursor,
  encodeCursor,
  type IndexCount,
  type IndexFilter,
  type IndexPage,
  type IndexQuery,
  type IndexRebuild,
  type SearchDocument,
  type SearchIndex,
} from './search-index.port.js';

export { typesenseFilter, typesenseQueryText } from './typesense.query.js';
export { typesenseCollectionSchema, typesenseJsonl } from './typesense.schema.js';

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

/** A NEWEST cursor: a message id (keyset). */
function newestCursor(cursor: string): bigint {
  const v = decodeCursor(cursor, CURSOR_TAG);
  if (v.s === 'n') return cursorId(v.id);
  throw new InvalidCursorError('cursor belongs to another query');
}

/** A RELEVANCE cursor: the hit's position in the ranking (1 to MAX_OFFSET). */
function relevanceCursor(cursor: string): number {
  const v = decodeCursor(cursor, CURSOR_TAG);
  if (v.s === 'r' && Number.isInteger(v.o) && (v.o as number) > 0 && (v.o as number) <= MAX_OFFSET)
    return v.o as number;
  throw new InvalidCursorError('cursor belongs to another query');
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

  const index: SearchIndex = {
    kind: 'typesense',

    init: () => ensureReady(),

    async ping() {
      const h = await client.health.retrieve();
      if (!h.ok) throw new Error('typesense answers /health with ok: false');
      return 'typesense ok';
    },

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
      const want = q.limit + 1;
      const text = typesenseQueryText(q.terms);

      if (q.sort === 'newest') {
        // Keyset on message_id, both bounds in filter_by; backward sorts ascending and reverses.
        const after = q.after ? newestCursor(q.after) : null;
        const before = q.before ? newestCursor(q.before) : null;
        const filter = typesenseFilter(q, { belowMessageId: after, aboveMessageId: before });
        if (!filter || text === null) return { hits: [], hasMore: false };
        const { hits } = await runSearch({
          ...baseParams(text),
          filter_by: filter,
          sort_by: q.backward ? 'message_id:asc' : 'message_id:desc',
          page: 1,
          per_page: want,
        });
        const page = hits.slice(0, q.limit);
        if (q.backward) page.reverse();
        return {
          hits: page.map((h) => toHit(h, encodeCursor(CURSOR_TAG, { s: 'n', id: h.document.id }), null)),
          hasMore: hits.length > q.limit,
        };
      }

      // RELEVANCE: a cursor is a hit's position (1-based) in the ranking, which offset paging reads
      // from either end: the window is the positions between the cursors (the list stops at
      // MAX_OFFSET). Backward from the end of the list needs its length: one count first.
      const lo = q.after ? relevanceCursor(q.after) : 0; // positions > lo
      let hi = q.before ? relevanceCursor(q.before) : MAX_OFFSET + 1; // positions < hi
      const filter = typesenseFilter(q);
      if (!filter || text === null) return { hits: [], hasMore: false };
      if (!q.before && q.backward) {
        const { found } = await runSearch({
          ...baseParams(text),
          filter_by: filter,
          per_page: 1,
          include_fields: 'id',
        });
        hi = Math.min(found, MAX_OFFSET) + 1;
      }
      const size = Math.max(0, hi - lo - 1); // positions in the window
      const take = Math.min(q.limit, size);
      const start = q.backward ? hi - 1 - take : lo; // offset (0-based) of the page's first hit
      if (take === 0) return { hits: [], hasMore: false };
      const { hits } = await runSearch({
        ...baseParams(text),
        filter_by: filter,
        sort_by: '_text_match:desc,message_id:desc',
        offset: start,
        limit: q.backward ? take : Math.min(want, size),
      });
      const page = hits.slice(0, take);
      return {
        hits: page.map((h, i) =>
          toHit(h, encodeCursor(CURSOR_TAG, { s: 'r', o: start + i + 1 }), h.text_match ?? null),
        ),
        hasMore: q.backward ? start > lo : hits.length > take,
      };
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
