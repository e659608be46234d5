import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import {
  CreateIncomingWebhookDocument,
  HistoryDocument,
  RevokeIncomingWebhookDocument,
} from '../generated/gql/graphql.js';

describeApi('incoming webhooks', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let origin: string;

  const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(origin + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as Record<string, unknown>,
    };
  };

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMITS_ENABLED: 'true', RATE_LIMITS: 'hook.send=6/600' });
    origin = new URL(t.url).origin;
    w = await basicWorkspace(t);
  }, 120_000); // app start and fixtures: slow on a loaded machine
  afterAll(() => t?.stop());

  it('posts as the hook bot; an Idempotency-Key makes a retry return the first message; bad input is a readable 4xx', async () => {
    const hook = (await w.ann.client.ok(CreateIncomingWebhookDocument, { channelId: w.general.id, name: 'CI' }))
      .createIncomingWebhook;
    expect(hook.url).toMatch(/^\/hooks\/wh_[A-Za-z0-9_-]{20,}$/);

    const first = await post(hook.url, JSON.stringify({ text: 'build green' }), { 'idempotency-key': 'build-7' });
    expect(first.status).toBe(200);
    const again = await post(hook.url, JSON.stringify({ text: 'build green' }), { 'idempotency-key': 'build-7' });
    expect(again.body['messageId']).toBe(first.body['messageId']);

    const history = await w.bob.client.ok(HistoryDocument, { channelId: w.general.id, first: 10 });
    const posted = history.messages.edges.filter((e) => e.node.text === 'build green');
    expect(posted).toHaveLength(1);
    expect(posted[0]!.node.author.id).toBe(hook.botUserId);
    expect(posted[0]!.node.author.name).toBe('CI');

    const bad = await post(hook.url, '{"text": ');
    expect(bad.status).toBe(400);
    expect(bad.body['error']).toMatch(/not JSON/);
    const noText = await post(hook.url, JSON.stringify({ attachments: [] }));
    expect(noText.status).toBe(400);
    expect(noText.body['error']).toMatch(/"text"/);
    const big = await post(hook.url, JSON.stringify({ text: 'x'.repeat(70_000) }));
    expect(big.status).toBe(413);

    // Five requests so far reached the hook's bucket (6 per window, counted before the body is read); one more passes, then 429.
    expect((await post(hook.url, JSON.stringify({ text: 'six' }))).status).toBe(200);
    const limited = await post(hook.url, JSON.stringify({ text: 'seven' }));
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
  });

  it('only admins create hooks; a revoked or unknown hook answers 404', async () => {
    expect(await w.bob.client.errorCode(CreateIncomingWebhookDocument, { channelId: w.general.id, name: 'Mine' })).toBe(
      'FORBIDDEN',
    );
    const hook = (await w.ann.client.ok(CreateIncomingWebhookDocument, { channelId: w.general.id, name: 'Alerts' }))
      .createIncomingWebhook;
    expect((await post(hook.url, JSON.stringify({ text: 'up' }))).status).toBe(200);
    expect(await w.eve.client.errorCode(RevokeIncomingWebhookDocument, { id: hook.id })).toBe('NOT_FOUND');
    expect((await w.ann.client.ok(RevokeIncomingWebhookDocument, { id: hook.id })).revokeIncomingWebhook).toBe(true);
    const gone = await post(hook.url, JSON.stringify({ text: 'down' }));
    expect(gone.status).toBe(404);
    expect(gone.body['error']).toMatch(/revoked/);
    expect((await post('/hooks/wh_nope', JSON.stringify({ text: 'x' }))).status).toBe(404);
  });
});
