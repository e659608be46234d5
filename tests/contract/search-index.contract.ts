/**
 * The SearchIndex contract (src/infra/search/search-index.port.ts): every backend runs these same
 * tests. Run from tests/api/search-index.test.ts: PostgreSQL full-text search on PGlite and on
 * PostgreSQL, and Typesense wherever TYPESENSE_URL is set.
 *
 * Each test works in channels of its own (fresh snowflake ids), so tests never see each other's
 * documents in a shared index.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSnowflake } from '../../src/infra/ids/snowflake.js';
import {
  InvalidCursorError,
  type IndexHit,
  type IndexQuery,
  type SearchDocument,
  type SearchIndex,
  type SearchTerm,
} from '../../src/infra/search/search-index.port.js';
import { walkSearch } from '../helpers/search-walk.js';

export interface ContractSubject {
  index: SearchIndex;
  cleanup(): Promise<void>;
}

const ids = createSnowflake(777);
const word = (text: string, negated = false): SearchTerm => ({ kind: 'word', text, negated });
const phrase = (text: string, negated = false): SearchTerm => ({ kind: 'phrase', text, negated });

export function describeSearchIndexContract(name: string, make: () => Promise<ContractSubject>) {
  describe(`SearchIndex contract: ${name}`, () => {
    let subject: ContractSubject;
    let index: SearchIndex;
    beforeAll(async () => {
      subject = await make();
      index = subject.index;
      await index.init();
    });
    afterAll(() => subject?.cleanup());

    const workspaceId = ids.next();
    const ann = ids.next();
    const bob = ids.next();
    const cat = ids.next();

    /** A fresh channel (or several) and a factory for documents in it. */
    function fixture(channels = 1) {
      const channelIds = Array.from({ length: channels }, () => ids.next());
      const doc = (text: string, extra: Partial<SearchDocument> = {}): SearchDocument => {
        const messageId = extra.messageId ?? ids.next();
        return {
          messageId,
          channelId: channelIds[0]!,
          workspaceId,
          authorId: ann,
          threadRootId: null,
          isThread: false,
          hasFile: false,
          hasLink: false,
          mentionedUserIds: [],
          text,
          createdAt: new Date(),
          ...extra,
        };
      };
      const q = (terms: SearchTerm[], extra: Partial<IndexQuery> = {}): IndexQuery => ({
        terms,
        channelIds,
        sort: 'newest',
        limit: 50,
        after: null,
        ...extra,
      });
      const found = async (terms: SearchTerm[], extra: Partial<IndexQuery> = {}) =>
        (await index.search(q(terms, extra))).hits.map((h) => h.messageId);
      return { channelIds, doc, q, found };
    }

    it('finds documents by word, stemmed, and by the prefix of a word', async () => {
      const { doc, found } = fixture();
      const a = doc('The deployment of the new router failed twice');
      const b = doc('Router reboot scheduled for tonight');
      const c = doc('Nothing to see here');
      await index.upsert([a, b, c]);
      expect(await found([word('router')])).toEqual([b.messageId, a.messageId]);
      expect(await found([word('routers')])).toEqual([b.messageId, a.messageId]); // stemmed
      expect(await found([word('deplo')])).toEqual([a.messageId]); // prefix of a word as written
      expect(await found([word('ROUTER')])).toEqual([b.messageId, a.messageId]); // case-insensitive
      expect(await found([word('submarine')])).toEqual([]);
    });

    it('requires every word, matches phrases in order, and excludes words and phrases', async () => {
      const { doc, found } = fixture();
      const a = doc('quick brown fox jumps over the lazy dog');
      const b = doc('the fox is quick and brown');
      const c = doc('a quick brown bear');
      await index.upsert([a, b, c]);
      expect(await found([word('quick'), word('fox')])).toEqual([b.messageId, a.messageId]);
      expect(await found([phrase('brown fox')])).toEqual([a.messageId]);
      expect(await found([phrase('fox brown')])).toEqual([]);
      expect(await found([word('quick'), word('fox', true)])).toEqual([c.messageId]);
      expect(await found([word('quick'), phrase('lazy dog', true)])).toEqual([c.messageId, b.messageId]);
    });

    it('only ever answers from the listed channels: hits, counts and highlights', async () => {
      const { channelIds, doc, q, found } = fixture(2);
      const [open, hidden] = channelIds as [bigint, bigint];
      const visible = doc('walrus sighting in the open channel', { channelId: open });
      const secret = doc('walrus secret plans', { channelId: hidden });
      await index.upsert([visible, secret]);
      const only = { channelIds: [open] };
      const page = await index.search(q([word('walrus')], only));
      expect(page.hits.map((h) => h.messageId)).toEqual([visible.messageId]);
      expect(page.hits.flatMap((h) => h.snippet.map((p) => p.text)).join('')).not.toContain('secret');
      expect(await found([word('secret')], only)).toEqual([]);
      expect(await found([phrase('secret plans')], only)).toEqual([]);
      expect(await index.count(q([word('walrus')], only), 100)).toEqual({ count: 1, exact: true });
      expect(await index.count(q([word('secret')], only), 100)).toEqual({ count: 0, exact: true });
      // Filters never widen the scope.
      expect(await found([word('walrus')], { ...only, authorIds: [ann], hasFile: false, minMessageId: 0n })).toEqual([
        visible.messageId,
      ]);
      // An empty channel list matches nothing at all.
      expect(await found([word('walrus')], { channelIds: [] })).toEqual([]);
      expect(await index.count(q([word('walrus')], { channelIds: [] }), 100)).toEqual({ count: 0, exact: true });
      // Both channels: both documents.
      expect((await found([word('walrus')])).sort()).toEqual([visible.messageId, secret.messageId].sort());
    });

    it('filters by author, excluded author, mention, file, link, thread and id range', async () => {
      const { doc, found } = fixture();
      const t0 = ids.next();
      const a = doc('otter report from ann', { hasLink: true });
      const b = doc('otter report from bob', { authorId: bob, mentionedUserIds: [ann, cat] });
      const root = doc('otter thread root', { authorId: cat, isThread: true });
      const reply = doc('otter reply', { authorId: bob, threadRootId: root.messageId, isThread: true, hasFile: true });
      const t1 = ids.next();
      const late = doc('otter late', { authorId: cat });
      await index.upsert([a, b, root, reply, late]);
      const sorted = (list: bigint[]) => [...list].sort((x, y) => (x < y ? -1 : 1));
      expect(await found([word('otter')], { authorIds: [bob] })).toEqual([reply.messageId, b.messageId]);
      expect(await found([word('otter')], { authorIds: [bob, cat] })).toEqual([
        late.messageId,
        reply.messageId,
        root.messageId,
        b.messageId,
      ]);
      expect(await found([word('otter')], { authorIds: [] })).toEqual([]);
      expect(sorted(await found([word('otter')], { excludedAuthorIds: [bob, cat] }))).toEqual([a.messageId]);
      expect(await found([word('otter')], { mentionedUserIds: [[ann]] })).toEqual([b.messageId]);
      expect(await found([word('otter')], { mentionedUserIds: [[ann], [cat]] })).toEqual([b.messageId]);
      expect(await found([word('otter')], { mentionedUserIds: [[ann], [bob]] })).toEqual([]);
      expect(await found([word('otter')], { hasFile: true })).toEqual([reply.messageId]);
      expect(await found([word('otter')], { hasLink: true })).toEqual([a.messageId]);
      expect(await found([word('otter')], { isThread: true })).toEqual([reply.messageId, root.messageId]);
      expect(await found([word('otter')], { isThread: false })).toEqual([late.messageId, b.messageId, a.messageId]);
      expect(await found([word('otter')], { minMessageId: t0, maxMessageId: t1 })).toEqual([
        reply.messageId,
        root.messageId,
        b.messageId,
        a.messageId,
      ]);
      expect(await found([word('otter')], { minMessageId: t1 })).toEqual([late.messageId]);
      // No words at all: filters alone.
      expect(await found([], { authorIds: [cat] })).toEqual([late.messageId, root.messageId]);
    });

    it('highlights the matched words in a snippet, and keeps the text as written', async () => {
      const { doc, q } = fixture();
      const long = `${'filler words here '.repeat(40)}the heron landed<br> on the pier ${'more filler text '.repeat(40)}`;
      const a = doc('We saw a Heron at the lake & a <b>heron</b> again');
      const b = doc(long);
      await index.upsert([a, b]);
      const page = await index.search(q([word('heron')]));
      const [hb, ha] = page.hits;
      expect(ha!.messageId).toBe(a.messageId);
      const marked = ha!.snippet.filter((p) => p.highlighted).map((p) => p.text.toLowerCase());
      expect(marked.length).toBeGreaterThanOrEqual(1);
      expect(marked.every((m) => m === 'heron')).toBe(true);
      const text = ha!.snippet.map((p) => p.text).join('');
      expect(text).toContain('&');
      expect(text).toContain('<b>');
      // A long message: an excerpt around the match, not the whole text.
      const longText = hb!.snippet.map((p) => p.text).join('');
      expect(hb!.snippet.some((p) => p.highlighted && p.text.toLowerCase() === 'heron')).toBe(true);
      expect(longText.length).toBeLessThan(long.length / 2);
      // Filters only: the start of the text, nothing highlighted.
      const plain = await index.search(q([], { authorIds: [ann] }));
      expect(plain.hits.length).toBe(2);
      expect(plain.hits.every((h) => h.snippet.every((p) => !p.highlighted))).toBe(true);
    });

    it('pages NEWEST by cursor: full pages, newest first, every match once', async () => {
      const { doc, q } = fixture();
      const docs = Array.from({ length: 23 }, (_, i) => doc(`puffin number ${i}`));
      await index.upsert(docs);
      const expected = docs.map((d) => d.messageId).reverse();
      const seen: bigint[] = [];
      let after: string | null = null;
      for (let pageNo = 0; pageNo < 10; pageNo++) {
        const page = await index.search(q([word('puffin')], { limit: 10, after }));
        seen.push(...page.hits.map((h) => h.messageId));
        if (!page.hasMore) break;
        expect(page.hits).toHaveLength(10);
        after = page.hits.at(-1)!.cursor;
      }
      expect(seen).toEqual(expected);
      expect(await index.count(q([word('puffin')]), 100)).toEqual({ count: 23, exact: true });
      expect(await index.count(q([word('puffin')]), 5)).toEqual({ count: 5, exact: false });
    });

    it('pages RELEVANCE by cursor: every match exactly once, best first', async () => {
      const { doc, q } = fixture();
      // The best match is the oldest, so recency alone cannot put it first.
      const strong = doc('kestrel nest, kestrel nest');
      const weak = Array.from({ length: 14 }, (_, i) =>
        doc(`a kestrel was seen over the valley this morning, number ${i}, far from any nest`),
      );
      await index.upsert([strong, ...weak]);
      const seen: bigint[] = [];
      let after: string | null = null;
      for (let pageNo = 0; pageNo < 10; pageNo++) {
        const page = await index.search(q([word('kestrel'), word('nest')], { sort: 'relevance', limit: 4, after }));
        seen.push(...page.hits.map((h) => h.messageId));
        if (!page.hasMore) break;
        expect(page.hits).toHaveLength(4);
        expect(page.hits.every((h) => typeof h.score === 'number')).toBe(true);
        after = page.hits.at(-1)!.cursor;
      }
      expect(seen[0]).toBe(strong.messageId);
      expect(seen).toHaveLength(15);
      expect([...seen].sort()).toEqual([strong, ...weak].map((d) => d.messageId).sort());
    });

    const walk = (query: IndexQuery, backward = false) => walkSearch(index, query, backward);

    /**
     * Relay paging both ways over one order: the backward walk (last/before) is the forward walk;
     * every hit's cursor resumes right after it and right before it; two cursors bound a window
     * that either end reads.
     */
    async function checkBothWays(query: IndexQuery, expected?: bigint[]) {
      const forward = await walk(query);
      const list = forward.map((h) => h.messageId);
      if (expected) expect(list).toEqual(expected);
      expect(new Set(list).size).toBe(list.length);
      const backward = await walk(query, true);
      expect(backward.map((h) => h.messageId)).toEqual(list);
      const ids = (hits: IndexHit[]) => hits.map((h) => h.messageId);
      const n = list.length;
      for (const i of [0, 1, Math.floor(n / 2), n - 2, n - 1]) {
        const cursor = forward[i]!.cursor;
        const next = await index.search({ ...query, limit: 3, after: cursor });
        expect(ids(next.hits), `after hit ${i}`).toEqual(list.slice(i + 1, i + 4));
        expect(next.hasMore).toBe(i + 4 < n);
        const prev = await index.search({ ...query, limit: 3, after: null, before: cursor, backward: true });
        expect(ids(prev.hits), `before hit ${i}`).toEqual(list.slice(Math.max(0, i - 3), i));
        expect(prev.hasMore).toBe(i - 3 > 0);
        // A backward page's cursors are the forward walk's: its start resumes backward, its end forward.
        if (prev.hits.length) {
          const again = await index.search({ ...query, limit: 3, after: prev.hits.at(-1)!.cursor });
          expect(ids(again.hits)[0]).toBe(list[i]);
        }
      }
      // A window between two cursors, read from its start and from its end.
      const [a, b] = [1, n - 2];
      const inside = list.slice(a + 1, b);
      const bounds = { after: forward[a]!.cursor, before: forward[b]!.cursor };
      const head = await index.search({ ...query, ...bounds, limit: 4 });
      expect(ids(head.hits)).toEqual(inside.slice(0, 4));
      expect(head.hasMore).toBe(inside.length > 4);
      const tail = await index.search({ ...query, ...bounds, limit: 4, backward: true });
      expect(ids(tail.hits)).toEqual(inside.slice(-4));
      expect(tail.hasMore).toBe(inside.length > 4);
      const all = await index.search({ ...query, ...bounds, limit: 50, backward: true });
      expect(ids(all.hits)).toEqual(inside);
      expect(all.hasMore).toBe(false);
      // Bounds the wrong way round: an empty window, not an error.
      const crossed = { after: forward[b]!.cursor, before: forward[a]!.cursor };
      expect((await index.search({ ...query, ...crossed, limit: 4 })).hits).toEqual([]);
      expect((await index.search({ ...query, ...crossed, limit: 4, backward: true })).hits).toEqual([]);
      return list;
    }

    it('pages NEWEST both ways (last/before): one order, exact cursors, windows between cursors', async () => {
      const { doc, q } = fixture();
      const docs = Array.from({ length: 13 }, (_, i) => doc(`grebe number ${i}`));
      await index.upsert(docs);
      await checkBothWays(q([word('grebe')], { limit: 4 }), docs.map((d) => d.messageId).reverse());
      // Filters only (no words): the same.
      await checkBothWays(q([], { limit: 4 }), docs.map((d) => d.messageId).reverse());
      // Empty: nothing either way.
      expect(await index.search(q([word('submarine')], { limit: 4, backward: true }))).toEqual({
        hits: [],
        hasMore: false,
      });
    });

    it('pages RELEVANCE both ways (last/before): the ranking read from its end is the same ranking', async () => {
      const { doc, q } = fixture();
      const strong = doc('plover nest, plover nest');
      const middle = doc('plover nest');
      const weak = Array.from({ length: 11 }, (_, i) =>
        doc(`a plover was seen over the valley this morning, number ${i}, far from any nest`),
      );
      await index.upsert([strong, middle, ...weak]);
      const list = await checkBothWays(q([word('plover'), word('nest')], { sort: 'relevance', limit: 4 }));
      expect(list[0]).toBe(strong.messageId);
      expect(list).toHaveLength(13);
      // The last page first: the weakest matches, scored, in ranking order.
      const last = await index.search(
        q([word('plover'), word('nest')], { sort: 'relevance', limit: 4, backward: true }),
      );
      expect(last.hits.map((h) => h.messageId)).toEqual(list.slice(-4));
      expect(last.hits.every((h) => typeof h.score === 'number')).toBe(true);
      expect(last.hasMore).toBe(true);
      // Without words relevance is newest first, both ways.
      await checkBothWays(
        q([], { sort: 'relevance', limit: 4 }),
        [strong, middle, ...weak].map((d) => d.messageId).reverse(),
      );
    });

    it('upserts by message id (last write wins) and removes idempotently', async () => {
      const { doc, found } = fixture();
      const a = doc('original wording about lemurs');
      await index.upsert([a]);
      await index.upsert([a]); // idempotent
      expect(await found([word('lemurs')])).toEqual([a.messageId]);
      await index.upsert([{ ...a, text: 'edited wording about gibbons' }]);
      expect(await found([word('lemurs')])).toEqual([]);
      expect(await found([word('gibbons')])).toEqual([a.messageId]);
      await index.remove([a.messageId]);
      await index.remove([a.messageId, ids.next()]); // absent ids are fine
      expect(await found([word('gibbons')])).toEqual([]);
    });

    it('treats query syntax, SQL and filter expressions in terms as literal text', async () => {
      const { channelIds, doc, found } = fixture(2);
      const other = doc('drop table search_documents secret', { channelId: channelIds[1]! });
      const a = doc("robert'); drop table students; -- channel_id:>0 || true");
      await index.upsert([a, other]);
      const only = { channelIds: [channelIds[0]!] };
      for (const hostile of [
        "'); DROP TABLE search_documents; --",
        'channel_id:>0 || true',
        '`) || channel_id:>0 && (`',
        'a:* | b:*',
        '!(x) <-> y',
        '\\',
        "'",
        '*',
        '%_',
        'OR',
        '$1',
      ]) {
        await expect(
          index.search({ terms: [word(hostile)], ...only, sort: 'relevance', limit: 5, after: null }),
        ).resolves.toBeDefined();
        await expect(
          index.search({ terms: [phrase(hostile)], ...only, sort: 'newest', limit: 5, after: null }),
        ).resolves.toBeDefined();
        await expect(index.count({ terms: [word('robert'), word(hostile, true)], ...only }, 10)).resolves.toBeDefined();
      }
      // Words are matched as words; the other channel stays out of reach.
      expect(await found([word('drop'), word('students')], only)).toEqual([a.messageId]);
      expect(await found([word('secret')], only)).toEqual([]);
      expect(await found([word('channel_id:>0'), word('||')], only)).toEqual([a.messageId]);
    });

    it('rejects malformed and foreign cursors with InvalidCursorError', async () => {
      const { doc, q } = fixture();
      await index.upsert([doc('ibis one'), doc('ibis two')]);
      const newest = await index.search(q([word('ibis')], { limit: 1 }));
      const cursor = newest.hits[0]!.cursor;
      await expect(index.search(q([word('ibis')], { after: 'not-a-cursor!' }))).rejects.toBeInstanceOf(
        InvalidCursorError,
      );
      await expect(
        index.search(q([word('ibis')], { after: Buffer.from('{"t":"other"}').toString('base64url') })),
      ).rejects.toBeInstanceOf(InvalidCursorError);
      await expect(index.search(q([word('ibis')], { sort: 'relevance', after: cursor }))).rejects.toBeInstanceOf(
        InvalidCursorError,
      );
      await expect(index.search(q([word('ibis')], { before: 'not-a-cursor!', backward: true }))).rejects.toBeInstanceOf(
        InvalidCursorError,
      );
      await expect(
        index.search(q([word('ibis')], { sort: 'relevance', before: cursor, backward: true })),
      ).rejects.toBeInstanceOf(InvalidCursorError);
      const next = await index.search(q([word('ibis')], { limit: 1, after: cursor }));
      expect(next.hits).toHaveLength(1);
    });

    it('keeps snowflake ids exact (they exceed 2^53)', async () => {
      const { doc, channelIds, found } = fixture();
      const a = doc('albatross');
      expect(a.messageId > 2n ** 53n && channelIds[0]! > 2n ** 53n).toBe(true);
      await index.upsert([a]);
      const hits = (
        await index.search({ terms: [word('albatross')], channelIds, sort: 'newest', limit: 5, after: null })
      ).hits;
      expect(hits.map((h) => [h.messageId, h.channelId])).toEqual([[a.messageId, a.channelId]]);
      expect(await found([word('albatross')], { minMessageId: a.messageId, maxMessageId: a.messageId + 1n })).toEqual([
        a.messageId,
      ]);
    });

    it('rebuilds: after commit the index holds what the rebuild wrote (and later writes)', async () => {
      const { doc, found } = fixture();
      const keep = doc('condor kept');
      const drop = doc('condor dropped');
      await index.upsert([keep, drop]);
      const rebuild = await index.beginRebuild();
      await rebuild.upsert([keep]);
      const live = doc('condor written during the rebuild');
      await rebuild.commit();
      await index.upsert([live]); // the worker's writes after the swap
      expect(await found([word('condor')])).toEqual([live.messageId, keep.messageId]);
    });
  });
}
