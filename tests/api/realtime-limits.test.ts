import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { print } from 'graphql';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect, over, subscribe } from '../helpers/ws.js';
import {
  AddReactionDocument,
  ChannelEventsDocument,
  MeDocument,
  SendMessageDocument,
} from '../generated/gql/graphql.js';

describeApi('real-time under load', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  beforeAll(async () => {
    t = await startTestApp({ SUBSCRIPTION_QUEUE_LIMIT: '20', WS_MAX_BUFFERED_BYTES: '262144' });
    w = await basicWorkspace(t);
  });
  afterAll(() => t?.stop());

  it('renders an event once for subscribers with the same selection, and per viewer where it must', async () => {
    const clients = [w.ann, w.bob, w.ann].map((u) => connect(t.url, u.token));
    const subs = clients.map((c) => subscribe(c.client, ChannelEventsDocument, { channelId: w.general.id }));
    await Promise.all(clients.map((c) => over(c.client, MeDocument, {})));
    await new Promise((r) => setTimeout(r, 100));
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
    // reactedByMe depends on the viewer: Bob gets his own execution; the second Ann... also her own.
    expect(afterReact.ownRenders - afterPost.ownRenders).toBe(2);
    const mine = subs.map((s) => {
      const e = s.events[1]!.channel;
      return e.__typename === 'ReactionChanged' ? e.message.reactions[0]!.reactedByMe : null;
    });
    expect(mine).toEqual([true, false, true]);
    for (const c of clients) await c.dispose();
  });

  it('disconnects a client that stops reading instead of buffering without bound', async () => {
    const url = t.url.replace(/^http/, 'ws');
    const socket = new WebSocket(url, 'graphql-transport-ws');
    await new Promise((r) => socket.once('open', r));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${w.ann.token}` } }));
    await new Promise((r) => socket.once('message', r)); // connection_ack
    socket.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: print(ChannelEventsDocument), variables: { channelId: w.general.id } },
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const closed = new Promise<number>((r) => socket.once('close', (code) => r(code)));
    // Stop reading: the kernel buffers fill, then the server's queue, then it must let go.
    (socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = 'x'.repeat(39_000);
    for (let i = 0; i < 150; i++)
      await w.bob.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: `${i} ${big}` } });
    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
    expect(code).toBe(1013);
    expect(t.app.realtime.hub.stats().listeners).toBe(0);
  }, 60_000);
});
