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

  it('pages newest first with message ids as cursors, covering everything once', async () => {
    const seen: string[] = [];
    let before: string | null | undefined = undefined;
    for (let page = 0; page < 10; page++) {
      const r: HistoryQuery['messages'] = (await w.ann.client.ok(HistoryDocument, { channelId, first: 50, before }))
        .messages;
      seen.push(...r.edges.map((e) => e.node.id));
      expect(r.edges.map((e) => e.cursor)).toEqual(r.edges.map((e) => e.node.id));
      if (!r.pageInfo.hasNextPage) break;
      before = r.pageInfo.endCursor;
    }
    expect(seen).toEqual([...sent].reverse());
  });

  it('catches up with after: the messages right after the cursor, newest first', async () => {
    const r = (await w.ann.client.ok(HistoryDocument, { channelId, after: sent[9], first: 5 })).messages;
    expect(r.edges.map((e) => e.node.text)).toEqual(['m14', 'm13', 'm12', 'm11', 'm10']);
    expect(r.pageInfo.hasPreviousPage).toBe(true);
    const last = (await w.ann.client.ok(HistoryDocument, { channelId, after: sent[117], first: 5 })).messages;
    expect(last.edges.map((e) => e.node.text)).toEqual(['m119', 'm118']);
    expect(last.pageInfo.hasPreviousPage).toBe(false);
    const between = (await w.ann.client.ok(HistoryDocument, { channelId, after: sent[10], before: sent[14] })).messages;
    expect(between.edges.map((e) => e.node.text)).toEqual(['m13', 'm12', 'm11']);
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
    expect(await w.eve.client.errorCode(ThreadDocument, { rootId: root })).toBe('NOT_FOUND');
  });
});
