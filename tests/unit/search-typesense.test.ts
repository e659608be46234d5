/**
 * The pure parts of the Typesense adapter (no server needed): filter_by and q construction, and
 * the JSONL documents; and its readiness ping against a loopback stand-in for Typesense's /health.
 * The adapter's behaviour against a real server is the contract suite.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  createTypesenseSearchIndex,
  typesenseCollectionSchema,
  typesenseFilter,
  typesenseJsonl,
  typesenseQueryText,
} from '../../src/infra/search/typesense.search.js';
import {
  cleanText,
  plainExcerpt,
  splitHighlighted,
  HL_END,
  HL_START,
  LT_MARK,
} from '../../src/infra/search/search-index.port.js';
import type { SearchTerm } from '../../src/infra/search/search-index.port.js';
import { walkSearch } from '../helpers/search-walk.js';

const w = (text: string, negated = false): SearchTerm => ({ kind: 'word', text, negated });
const p = (text: string, negated = false): SearchTerm => ({ kind: 'phrase', text, negated });

describe('typesense filter_by', () => {
  it('is built from ids, booleans and numbers only', () => {
    const f = typesenseFilter(
      {
        terms: [],
        channelIds: [1234567890123456789n, 2n],
        authorIds: [3n],
        excludedAuthorIds: [4n, 5n],
        mentionedUserIds: [[6n], [7n, 8n]],
        hasFile: true,
        hasLink: false,
        isThread: null,
        minMessageId: 9007199254740993n,
        maxMessageId: 9223372036854775807n,
      },
      { belowMessageId: 100n },
    );
    expect(f).toBe(
      'channel_id:[1234567890123456789,2] && author_id:[3] && author_id:!=4 && author_id:!=5 && mentioned_user_ids:[6] && ' +
        'mentioned_user_ids:[7,8] && has_file:true && has_link:false && message_id:>=9007199254740993 && ' +
        'message_id:<9223372036854775807 && message_id:<100',
    );
    // Every character outside identifiers, digits and the operators we write is absent.
    expect(f!.replace(/[a-z_]+|[0-9]+|:|!=|>=|<|&&|\[|\]|,|\s/g, '')).toBe('');
  });

  it('matches nothing (null) for empty lists, so an empty list never widens a search', () => {
    expect(typesenseFilter({ terms: [], channelIds: [] })).toBeNull();
    expect(typesenseFilter({ terms: [], channelIds: [1n], authorIds: [] })).toBeNull();
    expect(typesenseFilter({ terms: [], channelIds: [1n], mentionedUserIds: [[1n], []] })).toBeNull();
  });
});

describe('typesense q', () => {
  it('rebuilds words, phrases and exclusions without quotes or operators from the input', () => {
    expect(typesenseQueryText([w('deploy'), p('exact phrase'), w('noise', true), p('not this', true)])).toBe(
      'deploy "exact phrase" -noise -"not this"',
    );
    expect(typesenseQueryText([w('-x'), w('a"b')])).toBe('x a b');
    expect(typesenseQueryText([p('say "hi" there')])).toBe('"say hi there"');
  });

  it("is '*' for filters only, and null when nothing searchable is left (never a silent '*')", () => {
    expect(typesenseQueryText([])).toBe('*');
    expect(typesenseQueryText([w('*')])).toBeNull();
    expect(typesenseQueryText([w('&&'), w('foo', true)])).toBeNull();
    expect(() => typesenseQueryText([w('foo', true)])).toThrow(/at least one word/);
  });
});

describe('typesense documents', () => {
  it('writes int64 fields as exact integer literals and the text as a string', () => {
    const line = typesenseJsonl([
      {
        messageId: 1234567890123456789n,
        channelId: 9007199254740993n,
        workspaceId: 1n,
        authorId: 2n,
        threadRootId: null,
        isThread: false,
        hasFile: true,
        hasLink: false,
        mentionedUserIds: [9007199254740995n],
        text: 'a "quoted" \\ text 123',
        createdAt: new Date('2026-01-01T00:00:00Z'),
      },
    ]);
    expect(line).toContain('"message_id":1234567890123456789');
    expect(line).toContain('"channel_id":9007199254740993');
    expect(line).toContain('"mentioned_user_ids":[9007199254740995]');
    expect(line).toContain('"id":"1234567890123456789"');
    expect(line).toContain('"channel":"9007199254740993"');
    expect(line).not.toContain('thread_root_id');
    expect(line).toContain(JSON.stringify('a "quoted" \\ text 123'));
  });

  it('declares a collection sorted by message id, with a locale from SEARCH_LANGUAGE', () => {
    const s = typesenseCollectionSchema('messages_v1', 'german');
    expect(s.default_sorting_field).toBe('message_id');
    expect(s.fields.find((f) => f.name === 'text')).toMatchObject({ type: 'string', locale: 'de', stem: true });
  });
});

describe('snippet helpers', () => {
  it('split marked backend output into parts and restore "<"', () => {
    expect(
      splitHighlighted(`a ${HL_START}b${HL_END} c ${LT_MARK}tag> ${HL_START}d${HL_END}${HL_START}e${HL_END}`),
    ).toEqual([
      { text: 'a ', highlighted: false },
      { text: 'b', highlighted: true },
      { text: ' c <tag> ', highlighted: false },
      { text: 'de', highlighted: true },
    ]);
    expect(cleanText(`x${HL_START}y${HL_END}z${LT_MARK}`)).toBe('xyz');
    expect(plainExcerpt('')).toEqual([]);
    const long = plainExcerpt('word '.repeat(100));
    expect(long[0]!.text.endsWith('…')).toBe(true);
    expect(long[0]!.text.length).toBeLessThanOrEqual(242);
  });
});

describe('typesense ping (what /ready reports)', () => {
  it('asks GET /health with the API key; rejects once the server is gone', async () => {
    const seen: string[] = [];
    const fake = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${String(req.headers['x-typesense-api-key'])}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const index = createTypesenseSearchIndex({
      url: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`,
      apiKey: 'ping-key',
      collection: 'messages',
      language: 'english',
    });
    expect(await index.ping()).toBe('typesense ok');
    expect(seen).toEqual(['GET /health ping-key']);

    fake.closeAllConnections();
    await new Promise((r) => fake.close(r));
    await expect(index.ping()).rejects.toThrow(/ECONNREFUSED/);
    expect(seen).toHaveLength(1);
    await index.close();
  });

  it('rejects when Typesense answers that it is not healthy', async () => {
    const fake = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false }));
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const index = createTypesenseSearchIndex({
      url: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`,
      apiKey: 'ping-key',
      collection: 'messages',
      language: 'english',
    });
    try {
      await expect(index.ping()).rejects.toThrow();
    } finally {
      fake.closeAllConnections();
      fake.close();
    }
  });
});

/**
 * The adapter's paging arithmetic (keyset for NEWEST, positions for RELEVANCE, both ways) against
 * a loopback stand-in that answers multi_search like Typesense over a fixed ranking: sort_by,
 * offset/limit, page/per_page, found and the message_id bounds of filter_by. What Typesense itself
 * returns is the contract suite's job (tests/contract/search-index.contract.ts).
 */
describe('typesense paging (stand-in server)', () => {
  it('pages both ways over one order: the backward walk is the forward walk, windows between cursors', async () => {
    // 11 documents; scores repeat so ties fall back to the id.
    const docs = Array.from({ length: 11 }, (_, i) => ({ id: 1000n + BigInt(i), score: [5, 9, 5, 7, 9, 1][i % 6]! }));
    const fake = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.url?.startsWith('/aliases/')) return res.end(JSON.stringify({ name: 'm', collection_name: 'm_v1' }));
        const s = (JSON.parse(body) as { searches: Record<string, string | number>[] }).searches[0]!;
        let list = [...docs];
        for (const [, op, v] of String(s.filter_by).matchAll(/message_id:([<>])([0-9]+)/g))
          list = list.filter((d) => (op === '<' ? d.id < BigInt(v!) : d.id > BigInt(v!)));
        const byId = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
        if (s.sort_by === 'message_id:asc') list.sort((a, b) => byId(a.id, b.id));
        else if (s.sort_by === 'message_id:desc') list.sort((a, b) => byId(b.id, a.id));
        else list.sort((a, b) => b.score - a.score || byId(b.id, a.id));
        const start = s.offset !== undefined ? Number(s.offset) : (Number(s.page ?? 1) - 1) * Number(s.per_page);
        const size = Number(s.limit ?? s.per_page);
        const hits = list.slice(start, start + size).map((d) => ({
          document: { id: d.id.toString(), channel: '1', text: `doc ${d.id}` },
          text_match: d.score,
        }));
        res.end(JSON.stringify({ results: [{ found: list.length, hits }] }));
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const index = createTypesenseSearchIndex({
        url: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`,
        apiKey: 'k',
        collection: 'm',
        language: 'english',
      });
      for (const sort of ['newest', 'relevance'] as const) {
        const q = { terms: [w('doc')], channelIds: [1n], sort, limit: 3, after: null };
        const walk = (backward: boolean) => walkSearch(index, q, backward, 10);
        const forward = await walk(false);
        const list = forward.map((h) => h.messageId);
        expect(new Set(list).size).toBe(11);
        if (sort === 'newest') expect(list).toEqual(docs.map((d) => d.id).reverse());
        else expect(list.slice(0, 4)).toEqual([1010n, 1007n, 1004n, 1001n]); // score 9 first, ties by id
        expect((await walk(true)).map((h) => h.messageId)).toEqual(list);
        const ids = (p: { hits: { messageId: bigint }[] }) => p.hits.map((h) => h.messageId);
        for (const i of [0, 1, 5, 9, 10]) {
          const prev = await index.search({ ...q, before: forward[i]!.cursor, backward: true });
          expect(ids(prev), `${sort} before ${i}`).toEqual(list.slice(Math.max(0, i - 3), i));
          expect(prev.hasMore).toBe(i > 3);
          const next = await index.search({ ...q, after: forward[i]!.cursor });
          expect(ids(next), `${sort} after ${i}`).toEqual(list.slice(i + 1, i + 4));
          expect(next.hasMore).toBe(i + 4 < 11);
        }
        const bounds = { after: forward[1]!.cursor, before: forward[9]!.cursor };
        expect(ids(await index.search({ ...q, ...bounds }))).toEqual(list.slice(2, 5));
        const tail = await index.search({ ...q, ...bounds, backward: true });
        expect(ids(tail)).toEqual(list.slice(6, 9));
        expect(tail.hasMore).toBe(true);
      }
    } finally {
      await new Promise<void>((r) => fake.close(() => r()));
    }
  });
});
