import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import {
  AddReactionDocument,
  CreateBotDocument,
  CreateChannelDocument,
  CreateEventSubscriptionDocument,
  JoinChannelDocument,
  EventSubscriptionsDocument,
  InviteToChannelDocument,
  SendMessageDocument,
} from '../generated/gql/graphql.js';

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A loopback receiver: /ok… answers 200, /flaky 500 twice then 200, /down always 500. */
async function startReceiver() {
  const received: Received[] = [];
  let flaky = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      const ok = req.url?.startsWith('/ok') || (req.url === '/flaky' && ++flaky > 2);
      res.writeHead(ok ? 200 : 500).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { received, base, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describeApi('outgoing events (signed deliveries from the outbox)', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTestApp({ WEBHOOK_MAX_FAILURES: '3', OUTBOX_POLL_MS: '50' });
    w = await basicWorkspace(t);
  }, 120_000); // app start and fixtures: slow on a loaded machine
  afterAll(async () => {
    await t?.stop();
    await receiver?.close();
  });

  it('delivers signed events with an event id, retries a failing URL with back-off, disables one that keeps failing', async () => {
    const bot = (
      await w.ann.client.ok(CreateBotDocument, {
        workspaceId: w.workspace.id,
        name: 'Listener',
        scopes: ['CHAT_WRITE'],
      })
    ).createBot.bot;
    await w.ann.client.ok(InviteToChannelDocument, { channelId: w.general.id, userIds: [bot.user.id] });
    const subscribe = async (path: string) =>
      (
        await w.ann.client.ok(CreateEventSubscriptionDocument, {
          input: { botId: bot.id, url: receiver.base + path, kinds: ['MESSAGE_POSTED', 'BOT_MENTIONED'] },
        })
      ).createEventSubscription;
    const ok = await subscribe('/ok');
    const flaky = await subscribe('/flaky');
    const down = await subscribe('/down');
    expect(await w.bob.client.errorCode(EventSubscriptionsDocument, { botId: bot.id })).toBe('FORBIDDEN');

    const sent = (
      await w.ann.client.ok(SendMessageDocument, {
        input: { channelId: w.general.id, text: `deploy done <@${bot.user.id}>` },
      })
    ).sendMessage;

    const at = (path: string) => receiver.received.filter((r) => r.path === path);
    await eventually(
      async () => (await w.ann.client.ok(EventSubscriptionsDocument, { botId: bot.id })).eventSubscriptions,
      (subs) => at('/ok').length >= 1 && at('/flaky').length >= 3 && subs.some((s) => s.disabledAt),
      30_000,
      50,
    );

    // Signed: v1 = HMAC-SHA256(secret, "<timestamp>.<body>"), the event id in a header and the body.
    const delivery = at('/ok')[0]!;
    const ts = String(delivery.headers['x-chat-timestamp']);
    const expected = `v1=${createHmac('sha256', ok.secret).update(`${ts}.${delivery.body}`).digest('hex')}`;
    expect(delivery.headers['x-chat-signature']).toBe(expected);
    const event = JSON.parse(delivery.body) as { id: string; type: string; message: { id: string; text: string } };
    expect(event.id).toBe(delivery.headers['x-chat-event-id']);
    expect(event.type).toBe('BOT_MENTIONED');
    expect(event.message).toMatchObject({ id: sent.id, text: `deploy done <@${bot.user.id}>` });
    // Signed with another secret, it would not verify.
    expect(createHmac('sha256', flaky.secret).update(`${ts}.${delivery.body}`).digest('hex')).not.toBe(
      expected.slice(3),
    );

    // The flaky URL got the same event (same id) until it answered 200.
    const flakyIds = new Set(at('/flaky').map((r) => r.headers['x-chat-event-id']));
    expect(flakyIds.size).toBe(1);
    const subs = (await w.ann.client.ok(EventSubscriptionsDocument, { botId: bot.id })).eventSubscriptions;
    const byId = new Map(subs.map((s) => [s.id, s]));
    expect(byId.get(flaky.id)).toMatchObject({ failures: 0, disabledAt: null });
    expect(byId.get(down.id)!.failures).toBe(3);
    expect(byId.get(down.id)!.lastError).toBe('HTTP 500');
    expect(byId.get(down.id)!.disabledAt).not.toBeNull();
    // Disabled: nothing more is sent to it.
    const downCount = at('/down').length;
    expect(downCount).toBe(3);
  });

  it('REACTION_ADDED and MEMBER_JOINED reach the subscriptions of bots in the channel, signed; unsubscribed kinds do not', async () => {
    const ops = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'ops' }))
      .createChannel;
    const bot = (
      await w.ann.client.ok(CreateBotDocument, { workspaceId: w.workspace.id, name: 'Watcher', scopes: ['CHAT_WRITE'] })
    ).createBot.bot;
    const sub = (
      await w.ann.client.ok(CreateEventSubscriptionDocument, {
        input: { botId: bot.id, url: `${receiver.base}/ok-kinds`, kinds: ['REACTION_ADDED', 'MEMBER_JOINED'] },
      })
    ).createEventSubscription;
    await w.ann.client.ok(InviteToChannelDocument, { channelId: ops.id, userIds: [bot.user.id] });
    await w.bob.client.ok(JoinChannelDocument, { channelId: ops.id });
    const posted = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: ops.id, text: 'ship it' } }))
      .sendMessage;
    await w.ann.client.ok(AddReactionDocument, { messageId: posted.id, emoji: 'rocket' });

    const got = () => receiver.received.filter((r) => r.path === '/ok-kinds');
    await eventually(
      () => Promise.resolve(got().length),
      (n) => n >= 3,
      30_000,
      50,
    );
    const events = got().map((r) => {
      const ts = String(r.headers['x-chat-timestamp']);
      expect(r.headers['x-chat-signature']).toBe(
        `v1=${createHmac('sha256', sub.secret).update(`${ts}.${r.body}`).digest('hex')}`,
      );
      return JSON.parse(r.body) as { id: string; type: string; channelId?: string; userId?: string; reaction?: object };
    });
    // The reaction is ordered after its message's MESSAGE_POSTED (one aggregate), which was not subscribed: not sent.
    expect(events.map((e) => e.type).sort()).toEqual(['MEMBER_JOINED', 'MEMBER_JOINED', 'REACTION_ADDED']);
    const joined = events.filter((e) => e.type === 'MEMBER_JOINED');
    expect(joined.map((e) => e.userId).sort()).toEqual([bot.user.id, w.bob.id].sort());
    expect(joined.every((e) => e.channelId === ops.id)).toBe(true);
    expect(events.find((e) => e.type === 'REACTION_ADDED')!.reaction).toEqual({
      messageId: posted.id,
      channelId: ops.id,
      userId: w.ann.id,
      emoji: 'rocket',
    });
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
  });
});
