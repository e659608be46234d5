import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import {
  type HistoryQuery,
  CreateChannelDocument,
  DeleteMessageDocument,
  HistoryDocument,
  SendMessageDocument,
  ThreadDocument,
} from '../generated/gql/graphql.js';

describeApi('history', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let channelId: string;
  const sent: string[] = []; // ids, oldest first

  beforeAll(async () => {
    t = await startTestApp();
    w = await basicWorkspace(t);
    channelId = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'busy' }))
      .createChannel.id;
    for (let i = 0; i < 120; i++) {
      const r = await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: `m${i}` } });
      sent.push(r.sendMessage.id);
    }
  });
  afterAll(() => t?.stop());

  it('pages newest first with message ids as cursors, covering everything once (first/after: pageInfo.endCursor)', async () => {
    const seen: string[] = [];
    let after: string | null | undefined = undefined;
    for (let page = 0; page < 10; page++) {
      const r: HistoryQuery['messages'] = (await w.ann.client.ok(HistoryDocument, { channelId, first: 50, after }))
        .messages;
      seen.push(...r.edges.map((e) => e.node.id));
      expect(r.edges.map((e) => e.cursor)).toEqual(r.edges.map((e) => e.node.id));
      expect(r.pageInfo.hasPreviousPage).toBe(after !== undefined);
      if (!r.pageInfo.hasNextPage) break;
      expect(r.pageInfo.endCursor).toBe(r.edges.at(-1)!.cursor);
      after = r.pageInfo.endCursor;
    }
    expect(seen).toEqual([...sent].reverse());
  });

  it('pages the whole channel backward with last/before: pageInfo.startCursor, from the oldest end', async () => {
    const seen: string[] = [];
    let before: string | null | undefined = undefined;
    let pages = 0;
    for (; pages < 20; pages++) {
      const r: HistoryQuery['messages'] = (await w.ann.client.ok(HistoryDocument, { channelId, last: 7, before }))
        .messages;
      expect(r.edges.length).toBeGreaterThan(0);
      expect(r.pageInfo.hasNextPage).toBe(before !== undefined);
      expect(r.pageInfo.startCursor).toBe(r.edges[0]!.cursor);
      seen.unshift(...r.edges.map((e) => e.node.id));
      if (!r.pageInfo.hasPreviousPage) break;
      before = r.pageInfo.startCursor;
    }
    expect(pages).toBe(Math.ceil(sent.length / 7) - 1);
    expect(seen).toEqual([...sent].reverse());
  });

  it('follows the Relay cursor rules: after/before bound the list, first takes its start, last its end', async () => {
    const newestFirst = [...sent].reverse();
    const texts = (r: HistoryQuery['messages']) => r.edges.map((e) => e.node.id);
    const q = async (vars: { first?: number; last?: number; after?: string; before?: string }) =>
      (await w.ann.client.ok(HistoryDocument, { channelId, ...vars })).messages;
    // The window between two cursors (both exclusive), newest first.
    const a = newestFirst[10]!;
    const b = newestFirst[20]!;
    expect(texts(await q({ after: a, before: b, first: 100 }))).toEqual(newestFirst.slice(11, 20));
    expect(texts(await q({ after: a, before: b, first: 3 }))).toEqual(newestFirst.slice(11, 14));
    expect(texts(await q({ after: a, before: b, last: 3 }))).toEqual(newestFirst.slice(17, 20));
    const partial = await q({ after: a, before: b, last: 3 });
    expect(partial.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
    // first with only before: the newest messages, truncated before the cursor.
    expect(texts(await q({ before: b, first: 5 }))).toEqual(newestFirst.slice(0, 5));
    // last alone: the oldest messages, still newest first.
    expect(texts(await q({ last: 5 }))).toEqual(newestFirst.slice(-5));
    // Catching up from a message seen earlier: last/before gives the ones right after it in time.
    const catchUp = await q({ before: sent[9]!, last: 5 });
    expect(catchUp.edges.map((e) => e.node.text)).toEqual(['m14', 'm13', 'm12', 'm11', 'm10']);
    expect(catchUp.pageInfo.hasPreviousPage).toBe(true);
    const tail = await q({ before: sent[117]!, last: 5 });
    expect(tail.edges.map((e) => e.node.text)).toEqual(['m119', 'm118']);
    expect(tail.pageInfo.hasPreviousPage).toBe(false);
    // Past the end: no edges, no next page, null cursors.
    const end = await q({ after: sent[0]!, first: 5 });
    expect(end.edges).toEqual([]);
    expect(end.pageInfo).toMatchObject({ hasNextPage: false, startCursor: null, endCursor: null });
    // first and last together are refused.
    expect(await w.ann.client.errorCode(HistoryDocument, { channelId, first: 2, last: 2 })).toBe('BAD_USER_INPUT');
    for (const last of [0, -1, 101])
      expect(await w.ann.client.errorCode(HistoryDocument, { channelId, last })).toBe('BAD_USER_INPUT');
  });

  it('rejects out-of-range page sizes and malformed cursors', async () => {
    for (const first of [0, -1, 101]) {
      expect(await w.ann.client.errorCode(HistoryDocument, { channelId, first })).toBe('BAD_USER_INPUT');
    }
    for (const before of ['abc', '-5', '1e9', '99999999999999999999999', '']) {
      const r = await w.ann.client.request(HistoryDocument, { channelId, before });
      if (before === '')
        expect(r.errors).toBeUndefined(); // empty cursor = from the newest
      else expect(r.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    }
    expect((await w.ann.client.ok(HistoryDocument, { channelId, first: 100 })).messages.edges).toHaveLength(100);
  });

  it('skips deleted messages without reading them', async () => {
    const ch = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'tombstones' }))
      .createChannel.id;
    const ids: string[] = [];
    for (let i = 0; i < 30; i++)
      ids.push(
        (await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: `t${i}` } })).sendMessage.id,
      );
    for (const id of ids.slice(0, 29)) await w.ann.client.ok(DeleteMessageDocument, { id });
    const r = (await w.ann.client.ok(HistoryDocument, { channelId: ch })).messages;
    expect(r.edges.map((e) => e.node.text)).toEqual(['t29']);
    expect(r.pageInfo.hasNextPage).toBe(false);
    // The history query's predicate matches the partial index of listed rows (tiny tables would
    // otherwise be seq-scanned, so sequential scans are switched off for this one plan).
    const plan = await t.app.db.withSession(async (s) => {
      await s.exec('SET enable_seqscan = off');
      try {
        return await s.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN SELECT id FROM messages WHERE channel_id = $1 AND listed AND id < 9223372036854775807 ORDER BY id DESC LIMIT 51`,
          [BigInt(ch)],
        );
      } finally {
        await s.exec('RESET enable_seqscan');
      }
    });
    const text = plan.map((p) => Object.values(p)[0]).join('\n');
    expect(text).toMatch(/messages_history_idx/);
  });

  it('pages thread replies oldest first', async () => {
    const root = sent[0]!;
    for (let i = 0; i < 7; i++)
      await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: `r${i}`, threadRootId: root } });
    const p1 = (await w.bob.client.ok(ThreadDocument, { rootId: root, first: 4 })).thread;
    expect(p1.edges.map((e) => e.node.text)).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const p2 = (await w.bob.client.ok(ThreadDocument, { rootId: root, first: 4, after: p1.pageInfo.endCursor })).thread;
    expect(p2.edges.map((e) => e.node.text)).toEqual(['r4', 'r5', 'r6']);
    expect(p2.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    // Backward: last/before pageInfo.startCursor walks to the oldest reply.
    const b1 = (await w.bob.client.ok(ThreadDocument, { rootId: root, last: 4 })).thread;
    expect(b1.edges.map((e) => e.node.text)).toEqual(['r3', 'r4', 'r5', 'r6']);
    expect(b1.pageInfo.hasPreviousPage).toBe(true);
    const b2 = (await w.bob.client.ok(ThreadDocument, { rootId: root, last: 4, before: b1.pageInfo.startCursor }))
      .thread;
    expect(b2.edges.map((e) => e.node.text)).toEqual(['r0', 'r1', 'r2']);
    expect(b2.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
    expect(await w.eve.client.errorCode(ThreadDocument, { rootId: root })).toBe('NOT_FOUND');
  });
});
