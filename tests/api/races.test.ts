/**
 * Races forced, not hoped for: each test holds the server at a seam (`testHooks`) until the
 * interleaving it is about has happened, then releases it. Nothing here depends on timing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect, subscribe } from '../helpers/ws.js';
import { topics } from '../../src/domain/events/topics.js';
import type { ChatEvent } from '../../src/domain/events/events.js';
import {
  ChannelEventsDocument,
  CreateChannelDocument,
  SendMessageDocument,
  type SendMessageInput,
} from '../generated/gql/graphql.js';

/** A gate that opens once `n` parties have arrived; every party waits at it until then. */
function barrier(n: number) {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return {
    get arrived() {
      return arrived;
    },
    async wait() {
      if (++arrived >= n) open();
      await opened;
    },
  };
}

/** A hold: the first caller is parked until release(); `reached` resolves when it is parked. */
function hold() {
  let reachedFn!: () => void;
  let releaseFn!: () => void;
  const reached = new Promise<void>((r) => (reachedFn = r));
  const released = new Promise<void>((r) => (releaseFn = r));
  return {
    reached,
    release: () => releaseFn(),
    async park() {
      reachedFn();
      await released;
    },
  };
}

describeApi('races forced at test seams', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  const sockets: { dispose: () => void }[] = [];
  // The seams route to whatever the running test armed; unarmed, they pass straight through.
  const sendBarriers = new Map<string, ReturnType<typeof barrier>>();
  const sendHolds = new Map<string, ReturnType<typeof hold>>();
  let listenHold: ReturnType<typeof hold> | null = null;

  beforeAll(async () => {
    t = await startTestApp(
      {},
      {
        testHooks: {
          async beforeSendWrite({ nonce }) {
            const b = nonce === null ? undefined : sendBarriers.get(nonce);
            if (b) await b.wait();
            const h = nonce === null ? undefined : sendHolds.get(nonce);
            if (h) await h.park();
          },
          async afterListen() {
            const h = listenHold;
            listenHold = null; // hold one stream only
            if (h) await h.park();
          },
        },
      },
    );
    w = await basicWorkspace(t);
  });
  afterAll(async () => {
    for (const s of sockets) s.dispose();
    await t?.stop();
  });

  async function sameNonceTwiceAtOnce(input: Omit<SendMessageInput, 'clientNonce'>, nonce: string) {
    const gate = barrier(2);
    sendBarriers.set(nonce, gate);
    try {
      const send = () => w.bob.client.ok(SendMessageDocument, { input: { ...input, clientNonce: nonce } });
      const [a, b] = await Promise.all([send(), send()]);
      const rows = await t.app.db.prisma.message.findMany({
        where: { authorId: BigInt(w.bob.id), clientNonce: nonce },
      });
      return { ids: [a.sendMessage.id, b.sendMessage.id], rows, hits: gate.arrived };
    } finally {
      sendBarriers.delete(nonce);
    }
  }

  it('a top-level send with one nonce sent twice at once writes once; the loser answers from the unique violation', async () => {
    const r = await sameNonceTwiceAtOnce({ channelId: w.general.id, text: 'twice at once' }, 'race-top-level');
    // Both passed the nonce pre-check (both reached the write), so the one that did not write
    // could only answer with the winner's id from the unique-violation path.
    expect(r.hits).toBe(2);
    expect(r.ids[0]).toBe(r.ids[1]);
    expect(r.rows.map((m) => m.id.toString())).toEqual([r.ids[0]]);
  });

  it('a thread reply (the transaction path) with one nonce sent twice at once writes once, and counts once', async () => {
    const root = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'root' } }))
      .sendMessage.id;
    const r = await sameNonceTwiceAtOnce(
      { channelId: w.general.id, text: 'reply twice at once', threadRootId: root },
      'race-thread-reply',
    );
    expect(r.hits).toBe(2);
    expect(r.ids[0]).toBe(r.ids[1]);
    expect(r.rows.map((m) => m.id.toString())).toEqual([r.ids[0]]);
    const stored = await t.app.db.prisma.message.findUniqueOrThrow({ where: { id: BigInt(root) } });
    expect(stored.replyCount).toBe(1); // the losing transaction rolled back whole
  });

  /**
   * Subscribes to `ch` (after `after`) with the stream held just after it listens, sends a message
   * while it is held, and waits until that message's live event has reached the hub (so the held
   * stream's queue has it too: the hub hands each event to every local listener in one pass).
   * Returns the subscription, the message's id and the release of the hold.
   */
  async function sendWhileListenHeld(ch: string, after: string | null, text: string) {
    const seenLive = new Set<string>();
    const unlisten = await t.app.realtime.hub.listen(topics.channel(ch), (e: ChatEvent) => {
      if (e.type === 'MessagePosted') seenLive.add(e.messageId);
    });
    const h = hold();
    listenHold = h;
    const socket = connect(t.url, w.ann.token);
    sockets.push(socket);
    const sub = subscribe(
      socket.client,
      ChannelEventsDocument,
      after === null ? { channelId: ch } : { channelId: ch, after },
    );
    await h.reached;
    const id = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text } })).sendMessage.id;
    const deadline = Date.now() + 5_000;
    while (!seenLive.has(id)) {
      if (Date.now() > deadline) throw new Error('the live event never reached the hub');
      await new Promise((r) => setTimeout(r, 5));
    }
    unlisten();
    return { sub, id, release: () => h.release() };
  }

  it('a message committed between listen and replay is delivered once, not once from each', async () => {
    const ch = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'seam' }))
      .createChannel.id;
    const before = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: 'before' } }))
      .sendMessage.id;
    const { sub, id: during, release } = await sendWhileListenHeld(ch, before, 'during');
    release(); // the replay now reads `during` from the database, and the queue holds it live
    await sub.count(1);

    const next = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: 'next' } })).sendMessage
      .id;
    await sub.until(
      () => sub.events.some((e) => e.channel.__typename === 'MessagePosted' && e.channel.message.id === next),
      5_000,
      'the message after the seam',
    );
    // Events arrive in order: a live duplicate of `during` would have come before `next`.
    const ids = sub.events.map((e) => (e.channel.__typename === 'MessagePosted' ? e.channel.message.id : null));
    expect(ids).toEqual([during, next]);
    expect(sub.errors).toEqual([]);
    sub.unsubscribe();
  });

  it('a subscription from now delivers a message whose event arrived after its listen, though it committed before the start read', async () => {
    const ch = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'from-now' }))
      .createChannel.id;
    // Listening; the channel's sequence not read yet while `during` commits and is published.
    const { sub, id: during, release } = await sendWhileListenHeld(ch, null, 'during');
    release(); // the start read now includes `during`; its event waits in the queue
    await sub.count(1);
    const ids = sub.events.map((e) => (e.channel.__typename === 'MessagePosted' ? e.channel.message.id : null));
    expect(ids).toEqual([during]);
    expect(sub.errors).toEqual([]);
    sub.unsubscribe();
  });

  it('a resume does not skip a message that committed after a newer id (replay follows the channel sequence)', async () => {
    const ch = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'late-commit' }))
      .createChannel.id;
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: 'first' } });
    // A takes its id, then is held before it writes; B takes a newer id and commits first.
    const h = hold();
    sendHolds.set('late-a', h);
    const a = w.ann.client.ok(SendMessageDocument, {
      input: { channelId: ch, text: 'A (older id)', clientNonce: 'late-a' },
    });
    await h.reached;
    const b = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: 'B (newer id)' } }))
      .sendMessage.id;
    // A client saw B and went away; now A commits (its event goes to nobody this client holds).
    h.release();
    const aId = (await a).sendMessage.id;
    sendHolds.delete('late-a');
    expect(BigInt(aId) < BigInt(b)).toBe(true); // the older id committed later

    const socket = connect(t.url, w.ann.token);
    sockets.push(socket);
    const sub = subscribe(socket.client, ChannelEventsDocument, { channelId: ch, after: b });
    await sub.count(1);
    const ids = sub.events.map((e) => (e.channel.__typename === 'MessagePosted' ? e.channel.message.id : null));
    expect(ids).toEqual([aId]);
    expect(sub.errors).toEqual([]);
    sub.unsubscribe();
  });
});
