import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect, over, subscribe, type Subscription } from '../helpers/ws.js';
import {
  type BadgesSubscription,
  BadgesDocument,
  BootstrapDocument,
  ChannelDocument,
  ChannelEventsDocument,
  CreateChannelDocument,
  FollowThreadDocument,
  InviteToChannelDocument,
  MarkReadDocument,
  MarkThreadReadDocument,
  SendMessageDocument,
  SetNotificationLevelDocument,
  UnfollowThreadDocument,
  UnreadThreadsDocument,
} from '../generated/gql/graphql.js';

const FLUSH_MS = 50;
const SETTLE_MS = 100; // exact counts trail once a channel is quiet this long (passive sessions)
const REFRESH_MS = 400; // and at most this often while it keeps talking
const QUIET_MS = FLUSH_MS * 2 + SETTLE_MS * 2; // long enough to be sure no frame is coming

type Level = 'ALL' | 'MENTIONS' | 'NONE';
interface Case {
  name: string;
  level: Level;
  muted: boolean;
  text: (bob: string) => string;
  frame: boolean;
  unread: number;
  mentions: number;
}

/** The notification matrix: what one message from Ann does to Bob's channel badge. */
const matrix: Case[] = [
  { name: 'plain message', level: 'ALL', muted: false, text: () => 'hi', frame: true, unread: 1, mentions: 0 },
  {
    name: 'direct mention',
    level: 'ALL',
    muted: false,
    text: (b) => `hi <@${b}>`,
    frame: true,
    unread: 1,
    mentions: 1,
  },
  { name: '@channel', level: 'ALL', muted: false, text: () => 'hi <!channel>', frame: true, unread: 1, mentions: 1 },
  {
    name: '@here while online',
    level: 'ALL',
    muted: false,
    text: () => 'hi <!here>',
    frame: true,
    unread: 1,
    mentions: 1,
  },
  { name: 'muted: plain', level: 'ALL', muted: true, text: () => 'hi', frame: false, unread: 1, mentions: 0 },
  {
    name: 'muted: direct mention',
    level: 'ALL',
    muted: true,
    text: (b) => `hi <@${b}>`,
    frame: true,
    unread: 1,
    mentions: 1,
  },
  {
    name: 'muted: @channel',
    level: 'ALL',
    muted: true,
    text: () => 'hi <!channel>',
    frame: false,
    unread: 1,
    mentions: 0,
  },
  { name: 'muted: @here', level: 'ALL', muted: true, text: () => 'hi <!here>', frame: false, unread: 1, mentions: 0 },
  { name: 'MENTIONS: plain', level: 'MENTIONS', muted: false, text: () => 'hi', frame: false, unread: 1, mentions: 0 },
  {
    name: 'MENTIONS: direct mention',
    level: 'MENTIONS',
    muted: false,
    text: (b) => `hi <@${b}>`,
    frame: true,
    unread: 1,
    mentions: 1,
  },
  {
    name: 'MENTIONS: @channel',
    level: 'MENTIONS',
    muted: false,
    text: () => 'hi <!channel>',
    frame: true,
    unread: 1,
    mentions: 1,
  },
  {
    name: 'NONE: direct mention',
    level: 'NONE',
    muted: false,
    text: (b) => `hi <@${b}>`,
    frame: false,
    unread: 1,
    mentions: 0,
  },
  {
    name: 'NONE: @channel',
    level: 'NONE',
    muted: false,
    text: () => 'hi <!channel>',
    frame: false,
    unread: 1,
    mentions: 0,
  },
];

describeApi('badges', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let badges: Subscription<BadgesSubscription>;
  let bobSocket: ReturnType<typeof connect>;
  const sockets: { dispose: () => void }[] = [];

  const framesFor = (channelId: string) =>
    badges.events.flatMap((e) => e.badges.channels.filter((c) => c.channelId === channelId));
  const threadFramesFor = (rootId: string) =>
    badges.events.flatMap((e) => e.badges.threads.filter((c) => c.threadRootId === rootId));
  const dbCounts = async (channelId: string) => {
    const c = (await w.bob.client.ok(ChannelDocument, { id: channelId })).channel!;
    return { unreadCount: c.unreadCount, mentionCount: c.mentionCount };
  };
  const quiet = () => new Promise((r) => setTimeout(r, QUIET_MS));

  /** A channel of Ann's with Bob in it, already known to Bob's badge session. */
  async function freshChannel(name: string) {
    const id = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name })).createChannel.id;
    await w.ann.client.ok(InviteToChannelDocument, { channelId: id, userIds: [w.bob.id] });
    await badges.until(() => framesFor(id).length > 0, 5_000, `join frame for ${name}`);
    return id;
  }

  beforeAll(async () => {
    t = await startTestApp({
      BADGE_FLUSH_MS: String(FLUSH_MS),
      BADGE_SETTLE_MS: String(SETTLE_MS),
      BADGE_REFRESH_MS: String(REFRESH_MS),
    });
    w = await basicWorkspace(t);
    bobSocket = connect(t.url, w.bob.token);
    sockets.push(bobSocket);
    badges = subscribe(bobSocket.client, BadgesDocument, {});
    await over(bobSocket.client, BootstrapDocument, {}); // the connection is up and acknowledged
    await quiet();
  });
  afterAll(async () => {
    for (const s of sockets) s.dispose();
    await t?.stop();
  });

  for (const [i, c] of matrix.entries()) {
    it(`channel badge: ${c.name}`, async () => {
      const channelId = await freshChannel(`m${i}`);
      await w.bob.client.ok(SetNotificationLevelDocument, { channelId, level: c.level, muted: c.muted });
      const before = framesFor(channelId).length;
      await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: c.text(w.bob.id) } });
      if (c.frame) await badges.until(() => framesFor(channelId).length > before, 5_000, `frame for ${c.name}`);
      else await quiet();
      const frames = framesFor(channelId).slice(before);
      expect(frames.length).toBe(c.frame ? 1 : 0);
      const db = await dbCounts(channelId);
      expect(db).toEqual({ unreadCount: c.unread, mentionCount: c.mentions });
      if (c.frame) expect(frames[0]).toMatchObject(db); // what the badge says is what the database says
    });
  }

  it('@here counts only members online at send time', async () => {
    const carol = await t.user('Carol');
    await carol.client.ok((await import('../generated/gql/graphql.js')).JoinWorkspaceDocument, {
      inviteCode: w.workspace.inviteCode,
    });
    const channelId = await freshChannel('here');
    await w.ann.client.ok(InviteToChannelDocument, { channelId, userIds: [carol.id] });
    await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: '<!here> standup' } });
    const carolView = (await carol.client.ok(ChannelDocument, { id: channelId })).channel!;
    expect(carolView).toMatchObject({ unreadCount: 1, mentionCount: 0 }); // Carol has no connection
    await badges.until(() => framesFor(channelId).some((f) => f.mentionCount === 1), 5_000, 'Bob @here');
  });

  it('coalesces a burst into one frame per window, listing only what changed', async () => {
    const a = await freshChannel('burst-a');
    const b = await freshChannel('burst-b');
    await quiet();
    const start = badges.events.length;
    const began = Date.now();
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) =>
        w.ann.client.ok(SendMessageDocument, { input: { channelId: a, text: `a${i}` } }),
      ),
      ...Array.from({ length: 5 }, (_, i) =>
        w.ann.client.ok(SendMessageDocument, { input: { channelId: b, text: `b${i}` } }),
      ),
    ]);
    await badges.until(
      () => framesFor(a).at(-1)?.unreadCount === 10 && framesFor(b).at(-1)?.unreadCount === 5,
      5_000,
      'burst counts',
    );
    await quiet();
    const frames = badges.events.slice(start);
    const windows = Math.ceil((Date.now() - began) / FLUSH_MS) + 1;
    expect(frames.length).toBeLessThanOrEqual(windows);
    expect(frames.length).toBeLessThan(15); // far fewer frames than messages
    for (const f of frames) for (const c of f.badges.channels) expect([a, b]).toContain(c.channelId);
    expect(await dbCounts(a)).toEqual({ unreadCount: 10, mentionCount: 0 });
  });

  it('passive sessions: a talking channel sends a frame when it turns unread, a slow refresh, and exact counts once quiet', async () => {
    const channelId = await freshChannel('passive');
    await quiet();
    const before = framesFor(channelId).length;
    const began = Date.now();
    const N = 24;
    const sentAt: number[] = [];
    for (let i = 0; i < N; i++) {
      sentAt.push(Date.now());
      await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: `busy ${i}` } });
      await new Promise((r) => setTimeout(r, FLUSH_MS / 2)); // several messages per flush window, for many windows
    }
    const trafficMs = Date.now() - began;
    // On a busy machine one send can take longer than SETTLE_MS: the channel was quiet that long,
    // and the rule then sends the exact count (a settle) mid-traffic. Allow one frame per such gap.
    const settles = sentAt.slice(1).filter((t, i) => t - sentAt[i]! >= SETTLE_MS * 0.8).length;
    await badges.until(() => framesFor(channelId).at(-1)?.unreadCount === N, 5_000, 'exact count once quiet');
    await quiet();
    const frames = framesFor(channelId).slice(before);
    // Turned unread: coalesced within one flush window, so it may already count a second message
    // sent in that window; it is the transition, not the settle.
    expect(frames[0]).toMatchObject({ channelId, mentionCount: 0 });
    expect(frames[0]!.unreadCount).toBeGreaterThanOrEqual(1);
    expect(frames[0]!.unreadCount).toBeLessThan(N);
    expect(frames.at(-1)).toEqual({ channelId, unreadCount: N, mentionCount: 0 }); // settled: exact
    // One frame per flush window would be about trafficMs / FLUSH_MS; passive sessions send the
    // transition, a refresh per REFRESH_MS of traffic, and the settle.
    expect(trafficMs / FLUSH_MS).toBeGreaterThan(10);
    expect(frames.length).toBeLessThanOrEqual(2 + Math.ceil(trafficMs / REFRESH_MS) + settles);
    if (trafficMs > REFRESH_MS * 1.5) expect(frames.length).toBeGreaterThan(2); // a refresh happened mid-traffic
    expect(await dbCounts(channelId)).toEqual({ unreadCount: N, mentionCount: 0 });
  });

  it('sends every message of a DM (its count is shown)', async () => {
    const dm = (
      await w.ann.client.ok((await import('../generated/gql/graphql.js')).OpenDirectMessageDocument, {
        workspaceId: w.workspace.id,
        userIds: [w.bob.id],
      })
    ).openDirectMessage.id;
    await badges.until(() => framesFor(dm).length > 0, 5_000, 'the DM joins the session');
    await quiet();
    const before = framesFor(dm).length;
    for (let i = 1; i <= 3; i++) {
      await w.ann.client.ok(SendMessageDocument, { input: { channelId: dm, text: `dm ${i}` } });
      await badges.until(() => framesFor(dm).at(-1)?.unreadCount === i, 5_000, `dm frame ${i}`);
    }
    expect(
      framesFor(dm)
        .slice(before)
        .map((f) => f.unreadCount),
    ).toEqual([1, 2, 3]);
  });

  it('skips the channel this connection is viewing, but not other connections', async () => {
    const channelId = await freshChannel('viewed');
    const viewing = subscribe(bobSocket.client, ChannelEventsDocument, { channelId });
    const other = connect(t.url, w.bob.token);
    sockets.push(other);
    const otherBadges = subscribe(other.client, BadgesDocument, {});
    await over(other.client, BootstrapDocument, {});
    await quiet();
    const before = framesFor(channelId).length;
    await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: 'you are looking at this' } });
    await viewing.count(1);
    await otherBadges.until(
      () =>
        otherBadges.events.some((e) => e.badges.channels.some((c) => c.channelId === channelId && c.unreadCount === 1)),
      5_000,
      'other connection badge',
    );
    await quiet();
    expect(framesFor(channelId).length).toBe(before);
    viewing.unsubscribe();
    otherBadges.unsubscribe();
  });

  it('markRead resets the counts and tells the user’s other connections', async () => {
    const channelId = await freshChannel('reads');
    const m = (await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: `<@${w.bob.id}> look` } }))
      .sendMessage;
    await badges.until(() => framesFor(channelId).at(-1)?.mentionCount === 1, 5_000, 'mention frame');
    await w.bob.client.ok(MarkReadDocument, { channelId, messageId: m.id }); // from another client (HTTP)
    await badges.until(() => framesFor(channelId).at(-1)?.unreadCount === 0, 5_000, 'reset frame');
    expect(framesFor(channelId).at(-1)).toEqual({ channelId, unreadCount: 0, mentionCount: 0 });
    expect(await dbCounts(channelId)).toEqual({ unreadCount: 0, mentionCount: 0 });
  });

  it('counts thread replies for followers only, and an also-sent reply in the channel too', async () => {
    const channelId = await freshChannel('threads');
    const root = (await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: 'root by Ann' } }))
      .sendMessage;
    await badges.until(() => framesFor(channelId).at(-1)?.unreadCount === 1, 5_000, 'root frame');
    // Bob does not follow: a reply gives him nothing.
    await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: 'r1', threadRootId: root.id } });
    await quiet();
    expect(threadFramesFor(root.id)).toHaveLength(0);
    // Bob replies: he follows now, with nothing unread.
    await w.bob.client.ok(SendMessageDocument, { input: { channelId, text: 'r2 by Bob', threadRootId: root.id } });
    await badges.until(() => threadFramesFor(root.id).length > 0, 5_000, 'follow frame');
    expect(threadFramesFor(root.id).at(-1)).toMatchObject({ unreadCount: 0, channelId });
    await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: 'r3', threadRootId: root.id } });
    await w.ann.client.ok(SendMessageDocument, {
      input: { channelId, text: 'r4 also in channel', threadRootId: root.id, alsoSendToChannel: true },
    });
    await badges.until(() => threadFramesFor(root.id).at(-1)?.unreadCount === 2, 5_000, 'thread unread 2');
    await badges.until(
      () => framesFor(channelId).at(-1)?.unreadCount === 2,
      5_000,
      'channel unread 2 (root + also-sent)',
    );
    expect((await w.bob.client.ok(UnreadThreadsDocument)).unreadThreads).toContainEqual({
      threadRootId: root.id,
      channelId,
      unreadCount: 2,
    });
    await w.bob.client.ok(MarkThreadReadDocument, { rootId: root.id });
    await badges.until(() => threadFramesFor(root.id).at(-1)?.unreadCount === 0, 5_000, 'thread read');
    await w.bob.client.ok(UnfollowThreadDocument, { rootId: root.id });
    await quiet();
    const n = threadFramesFor(root.id).length;
    await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: 'r5', threadRootId: root.id } });
    await quiet();
    expect(threadFramesFor(root.id)).toHaveLength(n);
    await w.bob.client.ok(FollowThreadDocument, { rootId: root.id });
    await w.ann.client.ok(SendMessageDocument, {
      input: { channelId, text: `r6 <@${w.bob.id}>`, threadRootId: root.id },
    });
    await badges.until(() => threadFramesFor(root.id).at(-1)?.unreadCount === 1, 5_000, 'followed again');
    // Mentioned in a reply: Carol-less check with Ann's own thread: Bob mentioned in another thread follows it.
    const root2 = (await w.ann.client.ok(SendMessageDocument, { input: { channelId, text: 'root 2' } })).sendMessage;
    await w.ann.client.ok(SendMessageDocument, {
      input: { channelId, text: `hey <@${w.bob.id}>`, threadRootId: root2.id },
    });
    await badges.until(() => threadFramesFor(root2.id).at(-1)?.unreadCount === 1, 5_000, 'mention follows');
    const db = (await w.bob.client.ok(UnreadThreadsDocument)).unreadThreads;
    expect(db).toContainEqual({ threadRootId: root2.id, channelId, unreadCount: 1 });
    expect(db).toContainEqual({ threadRootId: root.id, channelId, unreadCount: 1 });
  });

  it('converges: bootstrap plus badge frames equal a fresh bootstrap after any sequence of sends and reads', async () => {
    const boot = async () => {
      const b = (await w.bob.client.ok(BootstrapDocument)).bootstrap;
      return new Map(b.channels.map((c) => [c.id, { unreadCount: c.unreadCount, mentionCount: c.mentionCount }]));
    };
    const chans = [await freshChannel('conv-a'), await freshChannel('conv-b')];
    await quiet();
    const state = await boot();
    const start = badges.events.length;
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let step = 0; step < 25; step++) {
      const ch = chans[Math.floor(rand() * chans.length)]!;
      const roll = rand();
      if (roll < 0.6) {
        const text = rand() < 0.3 ? `ping <@${w.bob.id}>` : rand() < 0.1 ? '<!channel>' : 'msg';
        await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text } });
      } else if (roll < 0.8) {
        const last = (await w.bob.client.ok(ChannelDocument, { id: ch })).channel!.lastMessageId;
        if (last) await w.bob.client.ok(MarkReadDocument, { channelId: ch, messageId: last });
      } else {
        await w.bob.client.ok(SendMessageDocument, { input: { channelId: ch, text: 'bob speaks' } });
      }
    }
    await quiet();
    for (const e of badges.events.slice(start))
      for (const c of e.badges.channels)
        state.set(c.channelId, { unreadCount: c.unreadCount, mentionCount: c.mentionCount });
    const fresh = await boot();
    for (const ch of chans) expect(state.get(ch)).toEqual(fresh.get(ch));
  });
});
