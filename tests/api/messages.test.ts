import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import {
  AddReactionDocument,
  ChannelDocument,
  CreateChannelDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  HistoryDocument,
  InviteToChannelDocument,
  MarkReadDocument,
  MessageDocument,
  RemoveReactionDocument,
  SendMessageDocument,
  SetNotificationLevelDocument,
  ThreadDocument,
} from '../generated/gql/graphql.js';

describeApi('messages', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  const countMessages = () => t.app.db.prisma.message.count();
  const countOutbox = () => t.app.db.prisma.outboxEvent.count();

  beforeAll(async () => {
    t = await startTestApp();
    w = await basicWorkspace(t);
  });
  afterAll(() => t?.stop());

  const send = (client: typeof w.ann.client, text: string, extra: Record<string, unknown> = {}) =>
    client.ok(SendMessageDocument, { input: { channelId: w.general.id, text, ...extra } }).then((r) => r.sendMessage);

  it('sends Markdown as written and resolves mentions', async () => {
    const text = `**hi** <@${w.bob.id}> and <@${w.eve.id}> <!here> <!channel> \`code\``;
    const m = await send(w.ann.client, text);
    expect(m.text).toBe(text);
    expect(m.author.id).toBe(w.ann.id);
    // Eve is not in the workspace: her id stays plain text and is not a mention.
    expect(m.mentions).toEqual([
      { kind: 'USER', userId: w.bob.id },
      { kind: 'HERE', userId: null },
      { kind: 'CHANNEL', userId: null },
    ]);
    const outbox = await t.app.db.prisma.outboxEvent.findFirst({ where: { aggregateId: BigInt(m.id) } });
    expect(outbox?.kind).toBe('message.posted');
  });

  it('rejects bad messages and writes nothing', async () => {
    const before = [await countMessages(), await countOutbox()];
    const tooLong = 'x'.repeat(40_001);
    const r = await w.ann.client.request(SendMessageDocument, { input: { channelId: w.general.id, text: tooLong } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'text' });
    expect(await w.ann.client.errorCode(SendMessageDocument, { input: { channelId: w.general.id, text: '   ' } })).toBe(
      'BAD_USER_INPUT',
    );
    expect(await w.ann.client.errorCode(SendMessageDocument, { input: { channelId: 'abc', text: 'x' } })).toBe(
      'BAD_USER_INPUT',
    );
    expect(
      await w.ann.client.errorCode(SendMessageDocument, {
        input: { channelId: w.general.id, text: 'x', threadRootId: '99999999999' },
      }),
    ).toBe('NOT_FOUND');
    expect(
      await w.ann.client.errorCode(SendMessageDocument, {
        input: { channelId: w.general.id, text: 'x', alsoSendToChannel: true },
      }),
    ).toBe('BAD_USER_INPUT');
    expect(
      await w.ann.client.errorCode(SendMessageDocument, {
        input: { channelId: w.general.id, text: 'x', fileIds: ['12345'] },
      }),
    ).toBe('NOT_FOUND');
    expect(await w.eve.client.errorCode(SendMessageDocument, { input: { channelId: w.general.id, text: 'x' } })).toBe(
      'NOT_FOUND',
    );
    expect([await countMessages(), await countOutbox()]).toEqual(before);
    // exactly 40,000 characters (astral characters count once) is fine
    const max = '😀'.repeat(40_000);
    expect((await send(w.ann.client, max)).text).toBe(max);
  });

  it('makes sends idempotent on the client nonce, also under concurrency', async () => {
    const before = await countMessages();
    const first = await send(w.bob.client, 'once', { clientNonce: 'n-1' });
    const retry = await send(w.bob.client, 'once (retry)', { clientNonce: 'n-1' });
    expect(retry.id).toBe(first.id);
    expect(retry.text).toBe('once');
    const racing = await Promise.all([0, 1, 2, 3].map(() => send(w.bob.client, 'race', { clientNonce: 'n-2' })));
    expect(new Set(racing.map((m) => m.id)).size).toBe(1);
    expect(await countMessages()).toBe(before + 2);
    // Another author may use the same nonce.
    const ann = await send(w.ann.client, 'mine', { clientNonce: 'n-1' });
    expect(ann.id).not.toBe(first.id);
  });

  it('lets only the author edit, and the author or an admin delete', async () => {
    const m = await send(w.bob.client, 'typo');
    const edited = (await w.bob.client.ok(EditMessageDocument, { id: m.id, text: `fixed <@${w.ann.id}>` })).editMessage;
    expect(edited.text).toBe(`fixed <@${w.ann.id}>`);
    expect(edited.editedAt).not.toBeNull();
    expect(edited.mentions).toEqual([{ kind: 'USER', userId: w.ann.id }]);
    expect(await w.ann.client.errorCode(EditMessageDocument, { id: m.id, text: 'hijack' })).toBe('FORBIDDEN');
    expect(await w.bob.client.errorCode(EditMessageDocument, { id: m.id, text: '' })).toBe('BAD_USER_INPUT');
    expect(await w.eve.client.errorCode(EditMessageDocument, { id: m.id, text: 'x' })).toBe('NOT_FOUND');

    const a = await send(w.ann.client, 'admin post');
    expect(await w.bob.client.errorCode(DeleteMessageDocument, { id: a.id })).toBe('FORBIDDEN');
    expect((await w.ann.client.ok(DeleteMessageDocument, { id: m.id })).deleteMessage).toBe(true); // owner deletes Bob's
    expect(await w.bob.client.errorCode(DeleteMessageDocument, { id: m.id })).toBe('NOT_FOUND');
    expect(await w.bob.client.errorCode(MessageDocument, { id: m.id })).toBe('NOT_FOUND');
    const row = await t.app.db.prisma.message.findUniqueOrThrow({ where: { id: BigInt(m.id) } });
    expect(row.text).toBe('');
    expect(await t.app.db.prisma.messageMention.count({ where: { messageId: row.id } })).toBe(0);
    const hist = await w.bob.client.ok(HistoryDocument, { channelId: w.general.id, first: 100 });
    expect(hist.messages.edges.map((e) => e.node.id)).not.toContain(m.id);
  });

  it('counts reactions per emoji, once per user, with reactedByMe per viewer', async () => {
    const m = await send(w.ann.client, 'react to me');
    await w.ann.client.ok(AddReactionDocument, { messageId: m.id, emoji: ':thumbsup:' });
    await w.ann.client.ok(AddReactionDocument, { messageId: m.id, emoji: 'thumbsup' });
    const r = (await w.bob.client.ok(AddReactionDocument, { messageId: m.id, emoji: 'thumbsup' })).addReaction;
    await w.bob.client.ok(AddReactionDocument, { messageId: m.id, emoji: '🎉' });
    const asBob = (await w.bob.client.ok(MessageDocument, { id: m.id })).message!;
    expect(asBob.reactions).toEqual([
      { emoji: 'thumbsup', count: 2, reactedByMe: true, userIds: [w.ann.id, w.bob.id] },
      { emoji: '🎉', count: 1, reactedByMe: true, userIds: [w.bob.id] },
    ]);
    expect(r.id).toBe(m.id);
    const asAnn = (await w.ann.client.ok(RemoveReactionDocument, { messageId: m.id, emoji: 'thumbsup' }))
      .removeReaction;
    expect(asAnn.reactions).toEqual([
      { emoji: 'thumbsup', count: 1, reactedByMe: false, userIds: [w.bob.id] },
      { emoji: '🎉', count: 1, reactedByMe: false, userIds: [w.bob.id] },
    ]);
    for (const bad of ['', 'not an emoji', 'a'.repeat(80), '😀😀', '<script>']) {
      expect(await w.ann.client.errorCode(AddReactionDocument, { messageId: m.id, emoji: bad })).toBe('BAD_USER_INPUT');
    }
    expect(await w.eve.client.errorCode(AddReactionDocument, { messageId: m.id, emoji: 'x' })).toBe('NOT_FOUND');
  });

  it('keeps threads: reply counts, thread query, also-send-to-channel, deleted roots', async () => {
    const root = await send(w.ann.client, 'thread root');
    const r1 = await send(w.bob.client, 'reply 1', { threadRootId: root.id });
    const r2 = await send(w.ann.client, 'reply 2 (also in channel)', {
      threadRootId: root.id,
      alsoSendToChannel: true,
    });
    expect(r1.threadRootId).toBe(root.id);
    expect(r2.alsoSentToChannel).toBe(true);
    expect(
      await w.ann.client.errorCode(SendMessageDocument, {
        input: { channelId: w.general.id, text: 'nested', threadRootId: r1.id },
      }),
    ).toBe('BAD_USER_INPUT');

    const rootNow = (await w.ann.client.ok(MessageDocument, { id: root.id })).message!;
    expect(rootNow.replyCount).toBe(2);
    expect(rootNow.lastReplyAt).toBe(r2.createdAt);
    const thread = await w.bob.client.ok(ThreadDocument, { rootId: root.id });
    expect(thread.thread.edges.map((e) => e.node.text)).toEqual(['reply 1', 'reply 2 (also in channel)']);
    const hist = await w.bob.client.ok(HistoryDocument, { channelId: w.general.id, first: 3 });
    const ids = hist.messages.edges.map((e) => e.node.id);
    expect(ids).toContain(r2.id); // also sent to channel
    expect(ids).not.toContain(r1.id); // thread-only reply

    // Deleting a root with replies leaves it listed as deleted; deleting the last reply then removes it.
    await w.ann.client.ok(DeleteMessageDocument, { id: root.id });
    let listed = (await w.bob.client.ok(HistoryDocument, { channelId: w.general.id, first: 5 })).messages.edges.map(
      (e) => e.node,
    );
    expect(listed.find((n) => n.id === root.id)).toMatchObject({ deleted: true, text: '', replyCount: 2 });
    await w.bob.client.ok(DeleteMessageDocument, { id: r1.id });
    await w.ann.client.ok(DeleteMessageDocument, { id: r2.id });
    listed = (await w.bob.client.ok(HistoryDocument, { channelId: w.general.id, first: 5 })).messages.edges.map(
      (e) => e.node,
    );
    expect(listed.find((n) => n.id === root.id)).toBeUndefined();
  });

  it('counts unread and mentions exactly, and markRead resets them', async () => {
    const ch = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'counts' }))
      .createChannel;
    await w.ann.client.ok(InviteToChannelDocument, { channelId: ch.id, userIds: [w.bob.id] });
    const post = (text: string) =>
      w.ann.client.ok(SendMessageDocument, { input: { channelId: ch.id, text } }).then((r) => r.sendMessage);
    const m1 = await post('one');
    await post(`two <@${w.bob.id}>`);
    await post('three <!channel>');
    const m4 = await post('four');
    let bob = (await w.bob.client.ok(ChannelDocument, { id: ch.id })).channel!;
    expect(bob).toMatchObject({ unreadCount: 4, mentionCount: 2, lastMessageId: m4.id });
    const ann = (await w.ann.client.ok(ChannelDocument, { id: ch.id })).channel!;
    expect(ann).toMatchObject({ unreadCount: 0, mentionCount: 0 }); // own messages are read

    bob = (await w.bob.client.ok(MarkReadDocument, { channelId: ch.id, messageId: m1.id })).markRead;
    expect(bob).toMatchObject({ unreadCount: 3, mentionCount: 2, lastReadMessageId: m1.id });
    bob = (await w.bob.client.ok(MarkReadDocument, { channelId: ch.id, messageId: m4.id })).markRead;
    expect(bob).toMatchObject({ unreadCount: 0, mentionCount: 0, lastReadMessageId: m4.id });

    // Level NONE: no mention counts.
    await w.bob.client.ok(SetNotificationLevelDocument, { channelId: ch.id, level: 'NONE' });
    await post(`five <@${w.bob.id}>`);
    bob = (await w.bob.client.ok(ChannelDocument, { id: ch.id })).channel!;
    expect(bob).toMatchObject({ unreadCount: 1, mentionCount: 0 });

    expect(await w.bob.client.errorCode(MarkReadDocument, { channelId: ch.id, messageId: '99999999' })).toBe(
      'NOT_FOUND',
    );
    expect(await w.eve.client.errorCode(MarkReadDocument, { channelId: ch.id, messageId: m1.id })).toBe('NOT_FOUND');
  });
});
