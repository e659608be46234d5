import { afterAll, beforeAll, expect, it } from 'vitest';
import webpush from 'web-push';
import { basicWorkspace, describeApi, startTestApp, type Client, type TestApp } from '../helpers/app.js';
import { waitUntil } from '../helpers/eventually.js';
import { viewTarget } from '../../src/infra/presence/presence.port.js';
import { connect, over, subscribe } from '../helpers/ws.js';
import { startWebPushFake, type WebPushBehaviour, type WebPushFake } from '../helpers/push-fakes.js';
import { selfSignedCert } from '../helpers/tls.js';
import {
  ChannelEventsDocument,
  CreateChannelDocument,
  DeleteMessageDocument,
  FollowThreadDocument,
  InviteToChannelDocument,
  JoinWorkspaceDocument,
  MarkThreadReadDocument,
  NotificationPreferencesDocument,
  OpenDirectMessageDocument,
  PushDevicesDocument,
  RegisterPushSubscriptionDocument,
  SendMessageDocument,
  SetChannelPushLevelDocument,
  SetNotificationLevelDocument,
  ThreadBadgesDocument,
  UnreadThreadMentionsDocument,
  UnregisterPushSubscriptionDocument,
  UpdateNotificationPreferencesDocument,
  type NotificationPreferencesInput,
} from '../generated/gql/graphql.js';

type Reason = 'DIRECT_MESSAGE' | 'MENTION' | 'CHANNEL_MENTION' | 'THREAD_MENTION' | 'THREAD_REPLY' | 'CHANNEL_MESSAGE';

interface Bob {
  id: string;
  client: Client;
  sub: string;
}

interface Ctx {
  ann: { id: string; client: Client };
  bob: Bob;
  /** A channel with Ann and Bob (a DM for DM cases). */
  channelId: string;
  send(text: string, extra?: { threadRootId?: string; alsoSendToChannel?: boolean; as?: Client }): Promise<string>;
}

interface Case {
  name: string;
  dm?: boolean;
  prefs?: NotificationPreferencesInput;
  level?: { level: 'ALL' | 'MENTIONS' | 'NONE'; muted?: boolean };
  channelPush?: 'ALL' | 'MENTIONS' | 'NONE';
  /** Bob on a socket: looking at the channel, or only connected (active a moment ago). */
  online?: 'viewing' | 'connected';
  /** Sends the case's message; returns its id. */
  act(c: Ctx): Promise<string>;
  push: Reason | null;
  threadMentions?: number;
}

const minuteNow = () => {
  const d = new Date();
  return d.getUTCHours() * 60 + d.getUTCMinutes();
};

/** The notification matrix: what one message from Ann does for Bob, who is not looking. */
const matrix: Case[] = [
  { name: 'DM', dm: true, act: (c) => c.send('hi'), push: 'DIRECT_MESSAGE' },
  { name: 'DM, muted', dm: true, level: { level: 'ALL', muted: true }, act: (c) => c.send('hi'), push: null },
  { name: 'DM, push NONE', dm: true, prefs: { pushLevel: 'NONE' }, act: (c) => c.send('hi'), push: null },
  { name: 'plain message, default push level (MENTIONS)', act: (c) => c.send('hi'), push: null },
  { name: 'plain message, push ALL', prefs: { pushLevel: 'ALL' }, act: (c) => c.send('hi'), push: 'CHANNEL_MESSAGE' },
  {
    name: 'plain message, push ALL, channel level MENTIONS',
    prefs: { pushLevel: 'ALL' },
    level: { level: 'MENTIONS' },
    act: (c) => c.send('hi'),
    push: null,
  },
  {
    name: 'plain message, push ALL, channel muted',
    prefs: { pushLevel: 'ALL' },
    level: { level: 'ALL', muted: true },
    act: (c) => c.send('hi'),
    push: null,
  },
  {
    name: 'plain message, channel override ALL',
    channelPush: 'ALL',
    act: (c) => c.send('hi'),
    push: 'CHANNEL_MESSAGE',
  },
  { name: 'direct mention', act: (c) => c.send(`hi <@${c.bob.id}>`), push: 'MENTION' },
  {
    name: 'direct mention, channel muted (a mention counts through mute, as for badges)',
    level: { level: 'ALL', muted: true },
    act: (c) => c.send(`hi <@${c.bob.id}>`),
    push: 'MENTION',
  },
  {
    name: 'direct mention, channel level NONE',
    level: { level: 'NONE' },
    act: (c) => c.send(`hi <@${c.bob.id}>`),
    push: null,
  },
  { name: 'direct mention, push NONE', prefs: { pushLevel: 'NONE' }, act: (c) => c.send(`<@${c.bob.id}>`), push: null },
  {
    name: 'direct mention, push ALL but channel override NONE',
    prefs: { pushLevel: 'ALL' },
    channelPush: 'NONE',
    act: (c) => c.send(`<@${c.bob.id}>`),
    push: null,
  },
  { name: '@channel', act: (c) => c.send('hi <!channel>'), push: 'CHANNEL_MENTION' },
  {
    name: '@channel, channel muted',
    level: { level: 'ALL', muted: true },
    act: (c) => c.send('hi <!channel>'),
    push: null,
  },
  { name: '@here while Bob is offline', act: (c) => c.send('hi <!here>'), push: null },
  {
    name: 'direct mention while viewing the channel',
    online: 'viewing',
    act: (c) => c.send(`<@${c.bob.id}>`),
    push: null,
  },
  {
    name: 'direct mention while connected (active within NOTIFY_ACTIVE_SUPPRESS_S)',
    online: 'connected',
    act: (c) => c.send(`<@${c.bob.id}>`),
    push: null,
  },
  {
    name: 'direct mention, snoozed',
    prefs: { snoozeUntil: new Date(Date.now() + 3_600_000).toISOString() },
    act: (c) => c.send(`<@${c.bob.id}>`),
    push: null,
  },
  {
    name: 'direct mention, snooze over',
    prefs: { snoozeUntil: new Date(Date.now() - 60_000).toISOString() },
    act: (c) => c.send(`<@${c.bob.id}>`),
    push: 'MENTION',
  },
  {
    name: 'direct mention inside the DND schedule',
    prefs: { dndStartMinute: (minuteNow() + 1430) % 1440, dndEndMinute: (minuteNow() + 10) % 1440, timeZone: 'UTC' },
    act: (c) => c.send(`<@${c.bob.id}>`),
    push: null,
  },
  {
    name: 'direct mention outside the DND schedule',
    prefs: { dndStartMinute: (minuteNow() + 60) % 1440, dndEndMinute: (minuteNow() + 120) % 1440, timeZone: 'UTC' },
    act: (c) => c.send(`<@${c.bob.id}>`),
    push: 'MENTION',
  },
  {
    name: 'reply in a thread Bob follows, default push level',
    act: async (c) => c.send('reply', { threadRootId: await c.send('root', { as: c.bob.client }) }),
    push: null,
  },
  {
    name: 'reply in a thread Bob follows, push ALL',
    prefs: { pushLevel: 'ALL' },
    act: async (c) => c.send('reply', { threadRootId: await c.send('root', { as: c.bob.client }) }),
    push: 'THREAD_REPLY',
  },
  {
    name: 'reply in a thread Bob does not follow',
    act: async (c) => c.send('reply', { threadRootId: await c.send('root') }),
    push: null,
  },
  {
    name: 'mention in a thread',
    act: async (c) => c.send(`look <@${c.bob.id}>`, { threadRootId: await c.send('root') }),
    push: 'THREAD_MENTION',
    threadMentions: 1,
  },
  {
    name: 'reply also sent to the channel, push ALL (channel rules apply)',
    channelPush: 'ALL',
    act: async (c) => c.send('also', { threadRootId: await c.send('root'), alsoSendToChannel: true }),
    push: 'CHANNEL_MESSAGE',
  },
  {
    name: 'direct mention deleted before the notification goes out',
    act: async (c) => {
      const id = await c.send(`<@${c.bob.id}>`);
      await c.ann.client.ok(DeleteMessageDocument, { id });
      return id;
    },
    push: null,
  },
];

describeApi('notifications', () => {
  let t: TestApp;
  let fake: WebPushFake;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  const sockets: { dispose(): void }[] = [];
  let seq = 0;

  beforeAll(async () => {
    const tls = selfSignedCert();
    fake = await startWebPushFake(tls);
    const vapid = webpush.generateVAPIDKeys();
    t = await startTestApp({
      OUTBOX_WORKER: 'off',
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:ops@example.com',
      PUSH_CA_FILE: tls.certFile,
      NOTIFY_ACTIVE_SUPPRESS_S: '600',
    });
    w = await basicWorkspace(t);
  });
  afterAll(async () => {
    for (const s of sockets) s.dispose();
    await t?.stop();
    await fake?.close();
  });

  /** A fresh recipient in the workspace with one Web Push subscription. */
  async function newBob(behaviour: WebPushBehaviour = 'accept'): Promise<Bob> {
    const u = await t.user('Bob');
    await u.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    const sub = fake.subscription(`bob-${++seq}`, behaviour);
    await u.client.ok(RegisterPushSubscriptionDocument, {
      platform: 'WEB_PUSH',
      token: sub.endpoint,
      p256dh: sub.p256dh,
      auth: sub.auth,
    });
    return { id: u.id, client: u.client, sub: sub.name };
  }

  async function channelWith(bob: Bob, dm = false): Promise<string> {
    if (dm)
      return (await w.ann.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [bob.id] }))
        .openDirectMessage.id;
    const ch = (
      await w.ann.client.ok(CreateChannelDocument, {
        workspaceId: w.workspace.id,
        name: `case-${++seq}`,
        private: true,
      })
    ).createChannel;
    await w.ann.client.ok(InviteToChannelDocument, { channelId: ch.id, userIds: [bob.id] });
    return ch.id;
  }

  function ctxFor(bob: Bob, channelId: string): Ctx {
    return {
      ann: w.ann,
      bob,
      channelId,
      async send(text, extra = {}) {
        const as = extra.as ?? w.ann.client;
        const r = await as.ok(SendMessageDocument, {
          input: {
            channelId,
            text,
            threadRootId: extra.threadRootId ?? null,
            alsoSendToChannel: extra.alsoSendToChannel ?? null,
          },
        });
        return r.sendMessage.id;
      },
    };
  }

  /** Runs the outbox (search and notifications) until nothing is left to claim now. */
  async function drain() {
    for (let idle = 0; idle < 2;) {
      const r = await t.app.outbox.drainOnce();
      idle = r.claimed === 0 ? idle + 1 : 0;
    }
  }

  it('decides who gets a push for every case of the matrix, and sends it once', async () => {
    // Cases are independent (a fresh Bob and channel each): their settings are made concurrently;
    // then, one case at a time, Bob goes online if the case says so and Ann sends.
    const setUp = async (c: Case) => {
      const bob = await newBob();
      const channelId = await channelWith(bob, c.dm);
      if (c.prefs) await bob.client.ok(UpdateNotificationPreferencesDocument, { input: c.prefs });
      if (c.level) await bob.client.ok(SetNotificationLevelDocument, { channelId, ...c.level });
      if (c.channelPush) await bob.client.ok(SetChannelPushLevelDocument, { channelId, level: c.channelPush });
      return { c, bob, channelId };
    };
    const prepared: { c: Case; bob: Bob; messageId: string }[] = [];
    for (const { c, bob, channelId } of await Promise.all(matrix.map(setUp))) {
      if (c.online) {
        const ws = connect(t.url, bob.client.token);
        sockets.push(ws);
        if (c.online === 'viewing') {
          subscribe(ws.client, ChannelEventsDocument, { channelId, after: null });
          const viewing = () => t.app.realtime.presence.viewingAmong([bob.id], viewTarget.channel(channelId));
          await waitUntil(async () => (await viewing()).length === 1, 30_000, 'Bob viewing the channel');
        } else {
          // A request over the socket: it is connected (presence counts it active from now).
          await over(ws.client, NotificationPreferencesDocument, {});
        }
      }
      prepared.push({ c, bob, messageId: await c.act(ctxFor(bob, channelId)) });
    }
    await drain();

    const got = prepared.map(({ c, bob, messageId }) => {
      const pushes = fake.to(bob.sub).filter((p) => p.payload['messageId'] === messageId);
      return { name: c.name, pushes: pushes.length, reason: pushes[0]?.payload['reason'] ?? null };
    });
    const want = prepared.map(({ c }) => ({ name: c.name, pushes: c.push ? 1 : 0, reason: c.push }));
    expect(got).toEqual(want);
    expect(fake.errors).toEqual([]); // every request had a valid VAPID header and an aes128gcm body

    // Thread mention counts are kept with the badge state.
    for (const { c, bob } of prepared.filter((p) => p.c.threadMentions !== undefined)) {
      const threads = (await bob.client.ok(UnreadThreadMentionsDocument)).unreadThreads;
      expect(
        threads.map((x) => x.mentionCount),
        c.name,
      ).toEqual([c.threadMentions]);
      await bob.client.ok(MarkThreadReadDocument, { rootId: threads[0]!.threadRootId });
      expect((await bob.client.ok(UnreadThreadMentionsDocument)).unreadThreads).toEqual([]);
    }

    // The same events handed to the consumer again (an outbox retry) push nothing twice.
    const before = fake.received.length;
    const ids = prepared.map((p) => BigInt(p.messageId));
    await t.app.db.prisma.$executeRaw`
      INSERT INTO outbox (kind, aggregate_id, payload)
      SELECT 'message.posted', id, '{}'::jsonb FROM unnest(${ids}::bigint[]) AS id`;
    await drain();
    expect(fake.received.length).toBe(before);
  }, 120_000);

  it('the badge subscription counts thread mentions the same way, and markThreadRead resets them', async () => {
    const bob = await newBob();
    const channelId = await channelWith(bob);
    const c = ctxFor(bob, channelId);
    const root = await c.send('root');
    await bob.client.ok(FollowThreadDocument, { rootId: root });
    const followed = t.app.realtime.badges.stats().followedThreads;
    const ws = connect(t.url, bob.client.token);
    sockets.push(ws);
    const sub = subscribe(ws.client, ThreadBadgesDocument, {});
    await waitUntil(() => t.app.realtime.badges.stats().followedThreads > followed, 10_000, 'the badge session');
    const last = () =>
      sub.events
        .flatMap((e) => e.badges.threads)
        .filter((x) => x.threadRootId === root)
        .at(-1);
    await c.send(`hey <@${bob.id}>`, { threadRootId: root });
    await sub.until(() => last()?.unreadCount === 1, 10_000, 'the mention frame');
    expect(last()).toEqual({ threadRootId: root, unreadCount: 1, mentionCount: 1 });
    await c.send('no mention', { threadRootId: root });
    await c.send('<!channel> in the thread', { threadRootId: root });
    await sub.until(() => last()?.unreadCount === 3, 10_000, 'three unread');
    expect(last()).toEqual({ threadRootId: root, unreadCount: 3, mentionCount: 2 });
    expect((await bob.client.ok(UnreadThreadMentionsDocument)).unreadThreads).toEqual([
      { threadRootId: root, unreadCount: 3, mentionCount: 2 },
    ]);
    await bob.client.ok(MarkThreadReadDocument, { rootId: root });
    await sub.until(() => last()?.unreadCount === 0, 10_000, 'read');
    expect(last()).toEqual({ threadRootId: root, unreadCount: 0, mentionCount: 0 });
    sub.unsubscribe();
  });

  it('payloads are small: a title, the channel, a trimmed preview and ids', async () => {
    const bob = await newBob();
    const channelId = await channelWith(bob);
    const id = await ctxFor(bob, channelId).send(`<@${bob.id}> ${'long words '.repeat(500)}`);
    await drain();
    const [p] = fake.to(bob.sub);
    expect(p).toBeDefined();
    expect(Object.keys(p!.payload).sort()).toEqual(['body', 'channelId', 'messageId', 'reason', 'title']);
    expect(p!.payload).toMatchObject({ channelId, messageId: id, reason: 'MENTION' });
    expect(p!.payload['title']).toMatch(/^#case-/);
    expect([...p!.payload['body']!].length).toBeLessThanOrEqual(140 + 'Ann: '.length);
    expect(p!.payload['body']).toMatch(/^Ann: @someone long words/);
    expect(JSON.stringify(p!.payload).length).toBeLessThan(1024);
    expect(p!.ttl).toBeDefined();
  });

  it('a provider that fails is retried from the outbox; no device gets a message twice', async () => {
    const bob = await newBob('fail-once');
    const second = fake.subscription(`bob-${++seq}-b`, 'accept');
    await bob.client.ok(RegisterPushSubscriptionDocument, {
      platform: 'WEB_PUSH',
      token: second.endpoint,
      p256dh: second.p256dh,
      auth: second.auth,
    });
    const channelId = await channelWith(bob, true);
    const id = await ctxFor(bob, channelId).send('are you there?');
    await drain();
    // First round: one device accepted, the other answered 500 (the row waits for its back-off).
    expect(fake.to(second.name)).toHaveLength(1);
    expect(fake.to(bob.sub)).toHaveLength(0);
    expect(fake.refused.filter((r) => r.subscription === bob.sub)).toEqual([{ subscription: bob.sub, status: 500 }]);
    const deadline = Date.now() + 20_000;
    while (fake.to(bob.sub).length === 0 && Date.now() < deadline) {
      await t.app.outbox.drainOnce();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(fake.to(bob.sub).map((p) => p.payload['messageId'])).toEqual([id]);
    expect(fake.to(second.name)).toHaveLength(1);
  });

  it('a device the push service calls gone (410) is removed', async () => {
    const bob = await newBob('gone');
    const channelId = await channelWith(bob, true);
    expect((await bob.client.ok(PushDevicesDocument)).pushDevices).toHaveLength(1);
    await ctxFor(bob, channelId).send('hello');
    await drain();
    expect(fake.refused.filter((r) => r.subscription === bob.sub)).toEqual([{ subscription: bob.sub, status: 410 }]);
    expect((await bob.client.ok(PushDevicesDocument)).pushDevices).toEqual([]);
  });

  it('preferences: defaults, changes, and bad input refused with BAD_USER_INPUT', async () => {
    const bob = await newBob();
    expect((await bob.client.ok(NotificationPreferencesDocument)).notificationPreferences).toEqual({
      pushLevel: 'MENTIONS',
      emailAfterMinutes: null,
      dndStartMinute: null,
      dndEndMinute: null,
      snoozeUntil: null,
      timeZone: 'UTC',
    });
    const p = (
      await bob.client.ok(UpdateNotificationPreferencesDocument, {
        input: { emailAfterMinutes: 30, dndStartMinute: 1320, dndEndMinute: 420, timeZone: 'Europe/Berlin' },
      })
    ).updateNotificationPreferences;
    expect(p).toMatchObject({
      emailAfterMinutes: 30,
      dndStartMinute: 1320,
      dndEndMinute: 420,
      timeZone: 'Europe/Berlin',
    });
    const cleared = (
      await bob.client.ok(UpdateNotificationPreferencesDocument, { input: { emailNever: true, clearDnd: true } })
    ).updateNotificationPreferences;
    expect(cleared).toMatchObject({ emailAfterMinutes: null, dndStartMinute: null, timeZone: 'Europe/Berlin' });

    const bad = (input: NotificationPreferencesInput) =>
      bob.client.errorCode(UpdateNotificationPreferencesDocument, { input });
    expect(await bad({ timeZone: 'Mars/Olympus' })).toBe('BAD_USER_INPUT');
    expect(await bad({ dndStartMinute: 10 })).toBe('BAD_USER_INPUT');
    expect(await bad({ dndStartMinute: 10, dndEndMinute: 1440 })).toBe('BAD_USER_INPUT');
    expect(await bad({ emailAfterMinutes: 0 })).toBe('BAD_USER_INPUT');
    expect(await bad({ emailAfterMinutes: 5, emailNever: true })).toBe('BAD_USER_INPUT');
    const reg = (v: { token: string; p256dh?: string; auth?: string }) =>
      bob.client.errorCode(RegisterPushSubscriptionDocument, { platform: 'WEB_PUSH', ...v });
    expect(await reg({ token: 'not a url', p256dh: 'x', auth: 'y' })).toBe('BAD_USER_INPUT');
    expect(await reg({ token: 'https://push.example/1' })).toBe('BAD_USER_INPUT');
    expect(
      await bob.client.errorCode(RegisterPushSubscriptionDocument, { platform: 'APNS', token: 'bad token!' }),
    ).toBe('BAD_USER_INPUT');
  });

  it("another user's device and a channel one is not in answer like missing ones (NOT_FOUND)", async () => {
    const bob = await newBob();
    const [device] = (await bob.client.ok(PushDevicesDocument)).pushDevices;
    expect(await w.eve.client.errorCode(UnregisterPushSubscriptionDocument, { id: device!.id })).toBe('NOT_FOUND');
    expect(await w.eve.client.errorCode(UnregisterPushSubscriptionDocument, { id: '12345' })).toBe('NOT_FOUND');
    const secret = (
      await w.ann.client.ok(CreateChannelDocument, {
        workspaceId: w.workspace.id,
        name: `secret-${++seq}`,
        private: true,
      })
    ).createChannel;
    expect(await bob.client.errorCode(SetChannelPushLevelDocument, { channelId: secret.id, level: 'ALL' })).toBe(
      'NOT_FOUND',
    );
    expect(await bob.client.ok(UnregisterPushSubscriptionDocument, { id: device!.id })).toEqual({
      unregisterPushSubscription: true,
    });
    expect((await bob.client.ok(PushDevicesDocument)).pushDevices).toEqual([]);
  });
});
