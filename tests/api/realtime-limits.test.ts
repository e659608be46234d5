import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { print } from 'graphql';
import { basicWorkspace, describeApi, listenMark, startTestApp, type TestApp } from '../helpers/app.js';
import { connect, over, subscribe } from '../helpers/ws.js';
import {
  AddReactionDocument,
  JoinWorkspaceDocument,
  ChannelEventsDocument,
  MeDocument,
  SendMessageDocument,
} from '../generated/gql/graphql.js';

describeApi('real-time under load', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  beforeAll(async () => {
    t = await startTestApp({
      SUBSCRIPTION_QUEUE_LIMIT: '20',
      WS_MAX_BUFFERED_BYTES: '262144',
      WS_KEEPALIVE_MS: '600000',
      OUTBOX_WORKER: 'off', // no polling statements in the counts below
    });
    w = await basicWorkspace(t);
  });
  afterAll(() => t?.stop());

  it('renders an event once for subscribers with the same selection, and per viewer where it must', async () => {
    const clients = [w.ann, w.bob, w.ann].map((u) => connect(t.url, u.token));
    try {
      const live = listenMark(t);
      const subs = clients.map((c) => subscribe(c.client, ChannelEventsDocument, { channelId: w.general.id }));
      await Promise.all(clients.map((c) => over(c.client, MeDocument, {})));
      await live(3);
      const before = t.app.websocket.stats();
      const m = (await w.bob.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'shared' } }))
        .sendMessage;
      await Promise.all(subs.map((s) => s.count(1)));
      const afterPost = t.app.websocket.stats();
      // A new message has no per-viewer fields: one execution, shared by the two others.
      expect(afterPost.sharedRenders - before.sharedRenders).toBe(2);
      await w.ann.client.ok(AddReactionDocument, { messageId: m.id, emoji: 'tada' });
      await Promise.all(subs.map((s) => s.count(2)));
      const afterReact = t.app.websocket.stats();
      // reactedByMe depends on the viewer: Ann and Bob get an execution each, whichever connection the
      // event reached first; Ann's second connection shares hers.
      expect(afterReact.ownRenders - afterPost.ownRenders).toBe(2);
      // Every stream was parked after delivering the post, so the reaction went from the hub's
      // callback straight to each socket (the direct path), not through the streams' queues.
      expect(afterReact.directFrames - afterPost.directFrames).toBe(3);
      const mine = subs.map((s) => {
        const e = s.events[1]!.channel;
        return e.__typename === 'ReactionChanged' ? e.message.reactions[0]!.reactedByMe : null;
      });
      expect(mine).toEqual([true, false, true]);
    } finally {
      // Closed even when an assertion fails, so the next test starts with no connection open.
      for (const c of clients) await c.dispose();
    }
  });

  it('keeps every subscription in hub order when per-viewer executions finish after shared ones', async () => {
    // Posts render once for all; reactions once per viewer, so a reaction's execution can finish
    // after the next post's. Each subscription must still get its frames in the order of the
    // events, on the direct path (parked streams) as on the queued one.
    const clients = [w.ann, w.bob].map((u) => connect(t.url, u.token));
    try {
      const live = listenMark(t);
      const subs = clients.map((c) => subscribe(c.client, ChannelEventsDocument, { channelId: w.general.id }));
      await live(2);
      const direct0 = t.app.websocket.stats().directFrames;
      const rounds = 50;
      await Promise.all(
        Array.from({ length: rounds }, async (_, i) => {
          const m = (await w.bob.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: `o${i}` } }))
            .sendMessage;
          await w.ann.client.ok(AddReactionDocument, { messageId: m.id, emoji: 'eyes' });
        }),
      );
      await Promise.all(subs.map((s) => s.count(2 * rounds)));
      const order = subs.map((s) =>
        s.events.map((e) => {
          const c = e.channel;
          if (c.__typename === 'MessagePosted') return `post ${c.message.id}`;
          if (c.__typename === 'ReactionChanged') return `react ${c.message.id}`;
          return c.__typename;
        }),
      );
      expect(order[1]).toEqual(order[0]);
      for (const o of order) {
        for (const [i, e] of o.entries()) {
          if (e.startsWith('react ')) expect(o.indexOf(`post ${e.slice(6)}`)).toBeLessThan(i);
        }
      }
      expect(t.app.websocket.stats().directFrames - direct0).toBeGreaterThan(0);
    } finally {
      for (const c of clients) await c.dispose();
    }
  });

  it('waits out a reordered publish instead of reading the database, and reads it when one was lost', async () => {
    // Concurrent sends commit in sequence order but may publish in any order. Publishes of three
    // messages are held back here (a fault injected at the broker) and then let through reordered.
    const broker = t.app.realtime.broker;
    const publish = broker.publish.bind(broker);
    let held: [Parameters<typeof publish>[0], { type: string }][] | null = null;
    broker.publish = (topic, payload) => {
      const p = payload as { type: string };
      if (held && topic.name.startsWith('ch:') && p.type === 'MessagePosted') {
        held.push([topic, p]);
        return Promise.resolve();
      }
      return publish(topic, payload);
    };
    const client = connect(t.url, w.ann.token);
    try {
      const live = listenMark(t);
      const sub = subscribe(client.client, ChannelEventsDocument, { channelId: w.general.id });
      await live(1);
      const posted = () =>
        sub.events.map((e) => (e.channel.__typename === 'MessagePosted' ? e.channel.message.id : null));
      const send = async (text: string) =>
        (await w.bob.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text } })).sendMessage.id;

      const first = await send('r0');
      await sub.count(1); // live: the stream knows where its sequence stands
      held = [];
      const ids = [first, await send('r1'), await send('r2'), await send('r3')];
      const late = held;
      held = [];
      // Third first, then the first two: delivered in order, and no replay read.
      const reordered = await t.app.db.statements.during(async () => {
        await publish(...late[2]!);
        await publish(...late[0]!);
        await publish(...late[1]!);
        await sub.count(4);
      });
      expect(posted()).toEqual(ids);
      expect(reordered.sql.filter((q) => /FROM "?(public"\.")?messages/.test(q))).toEqual([]);

      // Lost: only the newest of two is published. After the reorder window, the stream reads the
      // missing one from the database and delivers both in order.
      const more = [await send('r4'), await send('r5')];
      const lost = held;
      held = null;
      await publish(...lost[1]!);
      await sub.count(6);
      expect(posted()).toEqual([...ids, ...more]);
      expect(sub.errors).toEqual([]);
    } finally {
      broker.publish = publish;
      await client.dispose();
    }
  });

  it('delivers a reaction to every viewer without a database read per viewer', async () => {
    // reactedByMe differs per viewer (one execution each), but the event carries the message and
    // its reaction list: the executions read nothing from the database.
    const extra = await Promise.all(['Cy', 'Di', 'Ed', 'Flo', 'Gus', 'Hal', 'Ida', 'Jo'].map((n) => t.user(n)));
    for (const u of extra) await u.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    const m = (await w.bob.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'react to me' } }))
      .sendMessage;
    const cost = async (viewers: { token: string }[], emoji: string) => {
      const clients = viewers.map((u) => connect(t.url, u.token));
      const live = listenMark(t);
      const subs = clients.map((c) => subscribe(c.client, ChannelEventsDocument, { channelId: w.general.id }));
      await live(viewers.length);
      const { count } = await t.app.db.statements.during(async () => {
        await w.ann.client.ok(AddReactionDocument, { messageId: m.id, emoji });
        await Promise.all(subs.map((s) => s.count(1)));
      });
      for (const c of clients) await c.dispose();
      return count;
    };
    await cost([w.bob], 'eyes'); // warm-up
    const one = await cost([w.bob], 'tada');
    const nine = await cost([w.bob, ...extra], 'wave');
    expect(one).toBeGreaterThan(0); // the mutation's own statements are counted
    // A read per viewer would add 8. What may differ: whether the sender's token and profile were
    // still in their short-lived caches, and a stream's start-up read landing in the window.
    expect(nine - one).toBeLessThanOrEqual(3);
  });

  it('disconnects a client that stops reading instead of buffering without bound', async () => {
    const url = t.url.replace(/^http/, 'ws');
    const socket = new WebSocket(url, 'graphql-transport-ws');
    await new Promise((r) => socket.once('open', r));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${w.ann.token}` } }));
    await new Promise((r) => socket.once('message', r)); // connection_ack
    const live = listenMark(t);
    socket.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: print(ChannelEventsDocument), variables: { channelId: w.general.id } },
      }),
    );
    await live(1);
    const closed = new Promise<number>((r) => socket.once('close', (c) => r(c)));
    expect(t.app.websocket.stats().connections).toBe(1);
    const slow0 = t.app.websocket.stats().slowDisconnects;
    // Stop reading: the kernel's socket buffers fill (their size is the kernel's business), then
    // the server's buffer (WS_MAX_BUFFERED_BYTES), then it must let go. Send until it does, up to
    // 1,000 messages (117 MB: 39,000 three-byte characters each): far more than any kernel buffers. (The paused client cannot
    // read the close frame, so the server's connection count says when it let go.)
    (socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = '€'.repeat(39_000);
    let sent = 0;
    while (t.app.websocket.stats().connections > 0 && sent < 1_000) {
      await w.bob.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: `${sent} ${big}` } });
      sent++;
    }
    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    // The server closed it as a slow consumer (1013). The client may see that code, or 1006 when
    // the close frame was still queued behind the unread data as the server let go.
    expect(t.app.websocket.stats().slowDisconnects - slow0).toBe(1);
    expect([1013, 1006]).toContain(
      await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]),
    );
    expect(sent).toBeLessThan(1_000);
    expect(t.app.realtime.hub.stats().listeners).toBe(0);
  }, 60_000);
});
