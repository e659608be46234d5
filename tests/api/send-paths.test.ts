/**
 * Every send path under every rule. A message reaches the database by one of two writers: a
 * top-level message without files takes the single-statement hot path; thread replies (also sent
 * to the channel or not) and messages with files take the transaction. Both must apply the same
 * rules: nonce idempotency (also under concurrent retries) and mention counting.
 *
 * Mention rule (messages.service.ts, mirrored by src/realtime/badges.ts): a direct mention counts
 * unless the level is NONE; @channel and @here also need the channel unmuted; @here counts only
 * members online (a live connection) at send time. A thread reply that is not also sent to the
 * channel is not in the channel: it adds nothing to the channel's unread or mention counts; it
 * counts for the thread's followers (a directly mentioned channel member starts following, with
 * one unread reply).
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect, over } from '../helpers/ws.js';
import { waitUntil } from '../helpers/eventually.js';
import {
  BootstrapDocument,
  ChannelDocument,
  CreateChannelDocument,
  InviteToChannelDocument,
  JoinWorkspaceDocument,
  MarkReadDocument,
  MeDocument,
  SendMessageDocument,
  SetNotificationLevelDocument,
  UnreadThreadsDocument,
  type NotificationLevel,
  type SendMessageInput,
} from '../generated/gql/graphql.js';

interface SendPath {
  name: string;
  /** Which writer it takes: the transaction, or the single-statement hot path. */
  transaction: boolean;
  /** Shown in the channel (counts there), or thread-only. */
  listed: boolean;
  reply: boolean;
  alsoSendToChannel?: boolean;
  files: boolean;
}

const PATHS: SendPath[] = [
  { name: 'top-level', transaction: false, listed: true, reply: false, files: false },
  { name: 'thread reply', transaction: true, listed: false, reply: true, files: false },
  {
    name: 'reply also sent to the channel',
    transaction: true,
    listed: true,
    reply: true,
    alsoSendToChannel: true,
    files: false,
  },
  { name: 'top-level with files', transaction: true, listed: true, reply: false, files: true },
];

type Mention = 'plain' | 'direct' | 'channel' | 'here';
interface MentionRule {
  mention: Mention;
  level: NotificationLevel;
  muted: boolean;
  /** The recipient has a live graphql-ws connection at send time. */
  online: boolean;
  /** Whether a message in the channel adds one to the recipient's channel mention count. */
  counts: boolean;
}

const RULES: MentionRule[] = [
  { mention: 'plain', level: 'ALL', muted: false, online: true, counts: false },
  { mention: 'direct', level: 'ALL', muted: false, online: false, counts: true },
  { mention: 'direct', level: 'MENTIONS', muted: false, online: false, counts: true },
  { mention: 'direct', level: 'ALL', muted: true, online: false, counts: true },
  { mention: 'direct', level: 'NONE', muted: false, online: true, counts: false },
  { mention: 'channel', level: 'ALL', muted: false, online: false, counts: true },
  { mention: 'channel', level: 'MENTIONS', muted: false, online: false, counts: true },
  { mention: 'channel', level: 'ALL', muted: true, online: true, counts: false },
  { mention: 'channel', level: 'NONE', muted: false, online: true, counts: false },
  { mention: 'here', level: 'ALL', muted: false, online: true, counts: true },
  { mention: 'here', level: 'MENTIONS', muted: false, online: true, counts: true },
  { mention: 'here', level: 'ALL', muted: false, online: false, counts: false },
  { mention: 'here', level: 'ALL', muted: true, online: true, counts: false },
  { mention: 'here', level: 'NONE', muted: false, online: true, counts: false },
];

const ruleName = (r: MentionRule) =>
  `${r.mention === 'plain' ? 'no mention' : r.mention === 'direct' ? 'direct mention' : `<!${r.mention}>`}, ` +
  `level ${r.level}${r.muted ? ', muted' : ''}, recipient ${r.online ? 'online' : 'offline'}`;

const textFor = (m: Mention, recipientId: string) =>
  ({ plain: 'hello', direct: `hello <@${recipientId}>`, channel: 'hello <!channel>', here: 'hello <!here>' })[m];

describeApi('send paths × rules', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  /** Bob keeps a live connection (online); Carol never connects (offline). */
  let carol: Awaited<ReturnType<TestApp['user']>>;
  let bobWs: ReturnType<typeof connect>;
  let seq = 0;

  beforeAll(async () => {
    t = await startTestApp();
    w = await basicWorkspace(t);
    carol = await t.user('Carol');
    await carol.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    bobWs = connect(t.url, w.bob.token);
    await over(bobWs.client, MeDocument, {});
    await waitUntil(
      async () => (await t.app.realtime.presence.onlineAmong([w.bob.id, carol.id])).join() === w.bob.id,
      5_000,
      'Bob online, Carol offline',
    );
  });
  afterAll(async () => {
    await bobWs?.dispose();
    await t?.stop();
  });

  /** A READY file of the uploader's in the channel (there is no upload API yet). */
  async function readyFile(uploaderId: string, channelId: string) {
    const id = (BigInt(Date.now()) << 22n) + BigInt(++seq);
    await t.app.db.prisma.file.create({
      data: {
        id,
        workspaceId: BigInt(w.workspace.id),
        channelId: BigInt(channelId),
        uploaderId: BigInt(uploaderId),
        name: `f${seq}.txt`,
        mimeType: 'text/plain',
        size: 3n,
        storageKey: `test/${id}`,
        status: 'READY',
      },
    });
    return id.toString();
  }

  /**
   * A fresh channel of Ann's with Bob and Carol, the recipient's settings applied, and what the
   * path needs: a thread root (by Ann), a file (Ann's). Returns the input for Ann's send.
   */
  async function prepare(path: SendPath, recipient?: { client: typeof w.bob.client; rule: MentionRule }) {
    const channelId = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: `send-${++seq}` })
    ).createChannel.id;
    await w.ann.client.ok(InviteToChannelDocument, { channelId, userIds: [w.bob.id, carol.id] });
    if (recipient)
      await recipient.client.ok(SetNotificationLevelDocument, {
        channelId,
        level: recipient.rule.level,
        muted: recipient.rule.muted,
      });
    const rootId = path.reply
      ? (await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: 'thread root' } })).sendMessage.id
      : null;
    const fileIds = path.files ? [await readyFile(w.ann.id, channelId)] : null;
    const input = (text: string, clientNonce?: string): SendMessageInput => ({
      channelId,
      text,
      ...(rootId ? { threadRootId: rootId } : {}),
      ...(path.alsoSendToChannel ? { alsoSendToChannel: true } : {}),
      ...(fileIds ? { fileIds } : {}),
      ...(clientNonce ? { clientNonce } : {}),
    });
    return { channelId, rootId, fileIds, input };
  }

  /** Ann's send, counting the interactive transactions opened while it runs (sequential sends only). */
  async function sendObserved(input: SendMessageInput) {
    const spy = vi.spyOn(t.app.db.prisma, '$transaction');
    try {
      const m = (await w.ann.client.ok(SendMessageDocument, { input })).sendMessage;
      return { message: m, transactions: spy.mock.calls.length };
    } finally {
      spy.mockRestore();
    }
  }

  const rowsWithNonce = (nonce: string) =>
    t.app.db.prisma.message.count({ where: { authorId: BigInt(w.ann.id), clientNonce: nonce } });

  for (const path of PATHS) {
    it(`${path.name}: takes the ${path.transaction ? 'transaction' : 'single-statement hot path'}`, async () => {
      const p = await prepare(path);
      const { message, transactions } = await sendObserved(p.input('which path?'));
      expect(transactions).toBe(path.transaction ? 1 : 0);
      expect(message.threadRootId).toBe(p.rootId);
      expect(message.files.map((f) => f.id)).toEqual(p.fileIds ?? []);
      const row = await t.app.db.prisma.message.findUniqueOrThrow({ where: { id: BigInt(message.id) } });
      expect({ listed: row.listed, hasSeq: row.seq !== null }).toEqual({ listed: path.listed, hasSeq: path.listed });
      expect(await t.app.db.prisma.outboxEvent.count({ where: { aggregateId: BigInt(message.id) } })).toBe(1);
    });

    it(`${path.name}: the same clientNonce twice returns the first message and writes one row`, async () => {
      const p = await prepare(path);
      const nonce = `seq-${path.name}-${++seq}`;
      const first = (await w.ann.client.ok(SendMessageDocument, { input: p.input('first', nonce) })).sendMessage;
      const retry = (await w.ann.client.ok(SendMessageDocument, { input: p.input('retry', nonce) })).sendMessage;
      expect(retry.id).toBe(first.id);
      expect(retry.text).toBe('first');
      await expectOneWrite(path, p, first.id, nonce);
    });

    it(`${path.name}: five concurrent retries with one clientNonce write one row`, async () => {
      const p = await prepare(path);
      const nonce = `race-${path.name}-${++seq}`;
      const results = await Promise.all(
        [0, 1, 2, 3, 4].map((i) => w.ann.client.request(SendMessageDocument, { input: p.input(`race ${i}`, nonce) })),
      );
      expect(results.map((r) => r.errors ?? null)).toEqual([null, null, null, null, null]);
      const ids = new Set(results.map((r) => r.data!.sendMessage.id));
      expect(ids.size).toBe(1);
      await expectOneWrite(path, p, [...ids][0]!, nonce);
    });

    for (const rule of RULES) {
      it(`${path.name}: ${ruleName(rule)} → channel mention ${path.listed && rule.counts ? '+1' : '0'}`, async () => {
        const recipient = rule.online ? w.bob : carol;
        const p = await prepare(path, { client: recipient.client, rule });
        const { message, transactions } = await sendObserved(p.input(textFor(rule.mention, recipient.id)));
        expect(transactions).toBe(path.transaction ? 1 : 0);

        // The channel: unread counts listed messages (the root, if any, and this one when listed).
        const unread = (p.rootId ? 1 : 0) + (path.listed ? 1 : 0);
        const mentions = path.listed && rule.counts ? 1 : 0;
        const view = (await recipient.client.ok(ChannelDocument, { id: p.channelId })).channel!;
        expect({ unreadCount: view.unreadCount, mentionCount: view.mentionCount }).toEqual({
          unreadCount: unread,
          mentionCount: mentions,
        });
        const boot = (await recipient.client.ok(BootstrapDocument)).bootstrap.channels.find(
          (c) => c.id === p.channelId,
        );
        expect(boot).toMatchObject({ unreadCount: unread, mentionCount: mentions });

        // The thread: a directly mentioned member follows it, with this reply unread; @channel and
        // @here do not make anyone follow.
        const threads = (await recipient.client.ok(UnreadThreadsDocument)).unreadThreads.filter(
          (x) => x.channelId === p.channelId,
        );
        expect(threads).toEqual(
          p.rootId && rule.mention === 'direct'
            ? [{ threadRootId: p.rootId, channelId: p.channelId, unreadCount: 1 }]
            : [],
        );
        // The author has read everything they sent.
        const ann = (await w.ann.client.ok(ChannelDocument, { id: p.channelId })).channel!;
        expect({ unreadCount: ann.unreadCount, mentionCount: ann.mentionCount }).toEqual({
          unreadCount: 0,
          mentionCount: 0,
        });
        expect(message.mentions.map((m) => m.kind)).toEqual(
          { plain: [], direct: ['USER'], channel: ['CHANNEL'], here: ['HERE'] }[rule.mention],
        );
      });

      // At 10076ed markRead recounted `mm.user_id = viewer OR mm.kind = 'CHANNEL'`: level and mute
      // ignored, @here dropped, so "mark unread" changed the count (15 of these cases failed).
      it(`${path.name}: ${ruleName(rule)} → markRead's recount gives the same mention count`, async () => {
        const recipient = rule.online ? w.bob : carol;
        const p = await prepare(path, { client: recipient.client, rule });
        // A listed message before the one under test, to move the read position back to.
        const earlier =
          p.rootId ??
          (await w.ann.client.ok(SendMessageDocument, { input: { channelId: p.channelId, text: 'earlier' } }))
            .sendMessage.id;
        await recipient.client.ok(MarkReadDocument, { channelId: p.channelId, messageId: earlier });
        await w.ann.client.ok(SendMessageDocument, { input: p.input(textFor(rule.mention, recipient.id)) });
        const atSend = (await recipient.client.ok(ChannelDocument, { id: p.channelId })).channel!.mentionCount;
        expect(atSend).toBe(path.listed && rule.counts ? 1 : 0);
        // "Mark unread" back to the same position recounts from the stored mentions.
        const recount = (await recipient.client.ok(MarkReadDocument, { channelId: p.channelId, messageId: earlier }))
          .markRead.mentionCount;
        expect(recount).toBe(atSend);
      });
    }
  }

  /** One message row, one outbox row, one file link per file, the root counted once, the channel once. */
  async function expectOneWrite(path: SendPath, p: Awaited<ReturnType<typeof prepare>>, id: string, nonce: string) {
    const db = t.app.db.prisma;
    expect(await rowsWithNonce(nonce)).toBe(1);
    expect(await db.message.count({ where: { channelId: BigInt(p.channelId) } })).toBe(p.rootId ? 2 : 1);
    expect(await db.outboxEvent.count({ where: { aggregateId: BigInt(id) } })).toBe(1);
    expect(await db.messageFile.count({ where: { messageId: BigInt(id) } })).toBe(p.fileIds?.length ?? 0);
    if (p.rootId) {
      const root = await db.message.findUniqueOrThrow({ where: { id: BigInt(p.rootId) } });
      expect(root.replyCount).toBe(1);
    }
    // Bob's view of the channel: no sequence number burnt or doubled by the retries.
    const bob = (await w.bob.client.ok(ChannelDocument, { id: p.channelId })).channel!;
    expect({ unreadCount: bob.unreadCount, lastMessageId: bob.lastMessageId }).toEqual({
      unreadCount: (p.rootId ? 1 : 0) + (path.listed ? 1 : 0),
      lastMessageId: path.listed ? id : p.rootId,
    });
  }
});
