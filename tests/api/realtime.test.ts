import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, listenMark, startTestApp, type TestApp } from '../helpers/app.js';
import { connect, over, subscribe } from '../helpers/ws.js';
import { waitUntil } from '../helpers/eventually.js';
import {
  AddReactionDocument,
  ChannelEventsDocument,
  CreateChannelDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  InviteToChannelDocument,
  LeaveChannelDocument,
  MeDocument,
  PresenceNowDocument,
  PresenceOfDocument,
  SendMessageDocument,
  SetPresenceDocument,
  ThreadEventsDocument,
  TypingDocument,
  TypingInDocument,
} from '../generated/gql/graphql.js';

describeApi('real-time delivery', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  const sockets: { dispose: () => void }[] = [];
  const open = (token: string | null, headers?: Record<string, string>) => {
    const c = connect(t.url, token, { headers });
    sockets.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestApp({
      PRESENCE_OFFLINE_GRACE_MS: '300',
      WS_MAX_SUBSCRIPTIONS: '20',
      WS_ALLOWED_ORIGINS: 'https://app.example.com',
    });
    w = await basicWorkspace(t);
  });
  afterAll(async () => {
    for (const s of sockets) s.dispose();
    await t?.stop();
  });

  it('closes connections without a valid token with 4403, and refuses foreign origins', async () => {
    expect((await open(null).closed).code).toBe(4403);
    expect((await open('chs_forged').closed).code).toBe(4403);
    const evil = open(w.ann.token, { origin: 'https://evil.example' });
    const closed = await evil.closed;
    expect(closed.code).not.toBe(1000);
    const good = open(w.ann.token, { origin: 'https://app.example.com' });
    const me = await over(good.client, MeDocument, {});
    expect(me.data?.me.id).toBe(w.ann.id);
  });

  it('serves queries and mutations over the socket', async () => {
    const { client } = open(w.bob.token);
    const r = await over(client, SendMessageDocument, { input: { channelId: w.general.id, text: 'over ws' } });
    expect(r.data?.sendMessage.text).toBe('over ws');
    const bad = await over(client, SendMessageDocument, { input: { channelId: w.general.id, text: '' } });
    expect(bad.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });

  it('shows two people each other’s messages, edits, reactions, deletes and thread updates live', async () => {
    const ann = open(w.ann.token).client;
    const bob = open(w.bob.token).client;
    const live = listenMark(t);
    const annSees = subscribe(ann, ChannelEventsDocument, { channelId: w.general.id });
    const bobSees = subscribe(bob, ChannelEventsDocument, { channelId: w.general.id });
    await live(2);
    const m = (await w.bob.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'hello Ann' } }))
      .sendMessage;
    await annSees.count(1);
    expect(annSees.events[0]!.channel).toMatchObject({
      __typename: 'MessagePosted',
      message: { id: m.id, text: 'hello Ann', author: { id: w.bob.id } },
    });

    await w.bob.client.ok(EditMessageDocument, { id: m.id, text: 'hello Ann!' });
    await w.ann.client.ok(AddReactionDocument, { messageId: m.id, emoji: 'wave' });
    const reply = (
      await w.ann.client.ok(SendMessageDocument, {
        input: { channelId: w.general.id, text: 'a reply', threadRootId: m.id },
      })
    ).sendMessage;
    await w.ann.client.ok(DeleteMessageDocument, { id: reply.id });
    const types = [
      'MessagePosted',
      'MessageEdited',
      'ReactionChanged',
      'ThreadUpdated',
      'MessageDeleted',
      'ThreadUpdated',
    ];
    await annSees.count(types.length);
    await bobSees.count(types.length);
    expect(annSees.events.map((e) => e.channel.__typename)).toEqual(types);
    const edited = annSees.events[1]!.channel;
    expect(edited.__typename === 'MessageEdited' && edited.message.text).toBe('hello Ann!');
    // reactedByMe is per viewer: true for Ann, false for Bob, on the same event.
    const annReaction = annSees.events[2]!.channel;
    const bobReaction = bobSees.events[2]!.channel;
    expect(annReaction.__typename === 'ReactionChanged' && annReaction.message.reactions).toEqual([
      { emoji: 'wave', count: 1, reactedByMe: true },
    ]);
    expect(bobReaction.__typename === 'ReactionChanged' && bobReaction.message.reactions).toEqual([
      { emoji: 'wave', count: 1, reactedByMe: false },
    ]);
    const thread = annSees.events[3]!.channel;
    expect(thread.__typename === 'ThreadUpdated' && thread.replyCount).toBe(1);
    // the thread-only reply itself is not pushed to channel viewers
    expect(
      annSees.events.some((e) => e.channel.__typename === 'MessagePosted' && e.channel.message.id === reply.id),
    ).toBe(false);
    annSees.unsubscribe();
    bobSees.unsubscribe();
  });

  it('replays what a reconnecting client missed, then goes live, without gaps or repeats', async () => {
    const ch = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'replay' }))
      .createChannel.id;
    const first = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: 'seen' } })).sendMessage;
    const missed: string[] = [];
    for (let i = 0; i < 130; i++)
      missed.push(
        (await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: `missed ${i}` } })).sendMessage.id,
      );
    const client = open(w.ann.token).client;
    const sub = subscribe(client, ChannelEventsDocument, { channelId: ch, after: first.id });
    // Sends race the replay: each must arrive exactly once.
    const live: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < 20; i++)
        live.push(
          (await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: `live ${i}` } })).sendMessage.id,
        );
    })();
    await sending;
    await sub.count(150, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    const ids = sub.events.map((e) => (e.channel.__typename === 'MessagePosted' ? e.channel.message.id : null));
    expect(ids).toEqual([...missed, ...live]);
    sub.unsubscribe();
  });

  it('answers a forbidden subscription with an error on it alone; the socket and other subscriptions go on', async () => {
    const secret = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'rt-secret', private: true })
    ).createChannel.id;
    const bob = open(w.bob.token);
    const denied = subscribe(bob.client, ChannelEventsDocument, { channelId: secret });
    const allowed = subscribe(bob.client, ChannelEventsDocument, { channelId: w.general.id });
    await denied.until(() => denied.completed, 5_000, 'denied subscription to end');
    expect((denied.errors[0] as { extensions?: { code?: string } }).extensions?.code).toBe('NOT_FOUND');
    await new Promise((r) => setTimeout(r, 50));
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'still here' } });
    await allowed.count(1);

    // A member who leaves a private channel stops receiving it at once.
    await w.ann.client.ok(InviteToChannelDocument, { channelId: secret, userIds: [w.bob.id] });
    const live = listenMark(t);
    const member = subscribe(bob.client, ChannelEventsDocument, { channelId: secret });
    await live(1);
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: secret, text: 'for members' } });
    await member.count(1);
    await w.bob.client.ok(LeaveChannelDocument, { channelId: secret });
    await member.until(() => member.completed, 5_000, 'revoked subscription to end');
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: secret, text: 'after leaving' } });
    await new Promise((r) => setTimeout(r, 100));
    expect(member.events).toHaveLength(1);
    allowed.unsubscribe();
  });

  it('streams an open thread pane', async () => {
    const root = (
      await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'thread here' } })
    ).sendMessage;
    const r0 = (
      await w.bob.client.ok(SendMessageDocument, {
        input: { channelId: w.general.id, text: 'r0', threadRootId: root.id },
      })
    ).sendMessage;
    const sub = subscribe(open(w.ann.token).client, ThreadEventsDocument, { rootId: root.id, after: root.id });
    await sub.count(1);
    await w.bob.client.ok(SendMessageDocument, {
      input: { channelId: w.general.id, text: 'r1', threadRootId: root.id },
    });
    await w.bob.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'not in thread' } });
    await sub.count(3);
    const kinds = sub.events.map((e) => e.thread.__typename);
    expect(kinds).toEqual(['MessagePosted', 'MessagePosted', 'ThreadUpdated']);
    const first = sub.events[0]!.thread;
    expect(first.__typename === 'MessagePosted' && first.message.id).toBe(r0.id);
    sub.unsubscribe();
  });

  it('delivers typing to viewers except the sender, throttled, never stored', async () => {
    const live = listenMark(t);
    const annTyping = subscribe(open(w.ann.token).client, TypingInDocument, { channelId: w.general.id });
    const bobTyping = subscribe(open(w.bob.token).client, TypingInDocument, { channelId: w.general.id });
    await live(2);
    expect((await w.bob.client.ok(TypingDocument, { channelId: w.general.id })).typing).toBe(true);
    expect((await w.bob.client.ok(TypingDocument, { channelId: w.general.id })).typing).toBe(false); // within 3 s
    await annTyping.count(1);
    await new Promise((r) => setTimeout(r, 150));
    expect(annTyping.events).toHaveLength(1);
    expect(annTyping.events[0]!.typing).toMatchObject({ userId: w.bob.id, threadRootId: null, user: { name: 'Bob' } });
    expect(Date.parse(annTyping.events[0]!.typing.expiresAt)).toBeGreaterThan(Date.now());
    expect(bobTyping.events).toHaveLength(0);
    expect(await w.eve.client.errorCode(TypingDocument, { channelId: w.general.id })).toBe('NOT_FOUND');
  });

  it('pushes presence only for the listed users: online, DND, offline after the grace period', async () => {
    const carol = await t.user('Carol');
    await carol.client.ok((await import('../generated/gql/graphql.js')).JoinWorkspaceDocument, {
      inviteCode: w.workspace.inviteCode,
    });
    const watcher = subscribe(open(w.ann.token).client, PresenceOfDocument, { userIds: [carol.id] });
    await watcher.count(1);
    expect(watcher.events[0]!.presence).toMatchObject({ userId: carol.id, status: 'OFFLINE' });
    const carolSocket = open(carol.token);
    await over(carolSocket.client, MeDocument, {});
    await watcher.until(() => watcher.events.some((e) => e.presence.status === 'ONLINE'), 5_000, 'ONLINE');
    await carol.client.ok(SetPresenceDocument, { status: 'DND' });
    await watcher.until(() => watcher.events.at(-1)!.presence.status === 'DND', 5_000, 'DND');
    expect((await w.ann.client.ok(PresenceNowDocument, { userIds: [carol.id] })).presence).toEqual([
      { userId: carol.id, status: 'DND' },
    ]);
    expect(await w.ann.client.errorCode(PresenceNowDocument, { userIds: [carol.id, w.eve.id] })).toBe('NOT_FOUND');
    await carol.client.ok(SetPresenceDocument, { status: 'AUTO' });
    await carolSocket.dispose();
    await watcher.until(() => watcher.events.at(-1)!.presence.status === 'OFFLINE', 5_000, 'OFFLINE');
    expect(watcher.events.map((e) => e.presence.userId)).toEqual(watcher.events.map(() => carol.id)); // every event
    // Eve shares no workspace with Ann: she cannot watch Ann's presence; Ann looks like no one.
    const eveWatch = subscribe(open(w.eve.token).client, PresenceOfDocument, { userIds: [w.ann.id] });
    await eveWatch.until(() => eveWatch.completed, 5_000, 'an error');
    expect(eveWatch.events).toHaveLength(0);
    expect((eveWatch.errors[0] as { extensions?: { code?: string } }).extensions?.code).toBe('NOT_FOUND');
  });

  it('bounds subscriptions per connection, and leaves no listener behind after 10,000 subscribe/unsubscribe', async () => {
    const { client } = open(w.bob.token);
    const subs = Array.from({ length: 21 }, () => subscribe(client, TypingInDocument, { channelId: w.general.id }));
    await subs[20]!.until(() => subs[20]!.completed, 5_000, 'limit error');
    expect((subs[20]!.errors[0] as { extensions?: { code?: string } }).extensions?.code).toBe('RATE_LIMITED');
    for (const s of subs) s.unsubscribe();
    for (const s of sockets.splice(0)) s.dispose();
    await waitUntil(() => t.app.realtime.hub.stats().listeners === 0, 5_000, 'hub to empty after disposing sockets');

    const storm = open(w.bob.token).client;
    for (let round = 0; round < 100; round++) {
      const batch = Array.from({ length: 100 }, (_, i) =>
        i % 2
          ? subscribe(storm, ChannelEventsDocument, { channelId: w.general.id })
          : subscribe(storm, TypingInDocument, { channelId: w.general.id }),
      );
      await new Promise((r) => setTimeout(r, 1));
      for (const s of batch.slice(0, 100)) s.unsubscribe();
    }
    await waitUntil(
      () => {
        const s = t.app.realtime.hub.stats();
        return s.listeners === 0 && s.topics === 0 && s.brokerTopics === 0;
      },
      10_000,
      'hub maps to be empty',
    );
    expect(t.app.realtime.badges.stats().sessions).toBe(0);
  }, 60_000);
});
