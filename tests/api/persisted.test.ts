import { createHash } from 'node:crypto';
import { print } from 'graphql';
import { MANIFEST, idOf } from '../helpers/persisted.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect } from '../helpers/ws.js';
import { CSRF_HEADER } from '../../src/gateway/yoga.js';
import {
  ChannelEventsDocument,
  CreateBotDocument,
  JoinChannelDocument,
  MeDocument,
  SendMessageDocument,
  SignUpDocument,
} from '../generated/gql/graphql.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Body {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

async function post(url: string, token: string | null, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Body };
}

describeApi('persisted documents and APQ', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let botToken: string;

  beforeAll(async () => {
    t = await startTestApp({ PERSISTED_DOCUMENTS: MANIFEST });
    w = await basicWorkspace(t);
    const bot = await w.ann.client.ok(CreateBotDocument, {
      workspaceId: w.workspace.id,
      name: 'Deploys',
      scopes: ['CHAT_WRITE', 'CHANNELS_READ', 'CHANNELS_WRITE'],
    });
    botToken = bot.createBot.token;
  }, 120_000); // app start and fixtures: slow on a loaded machine
  afterAll(() => t?.stop());

  it('a bot runs manifest documents by documentId and by APQ hash, never text', async () => {
    const text = await post(t.url, botToken, { query: print(MeDocument) });
    expect(text.status).toBe(403);
    expect(text.body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_REQUIRED');
    expect(text.body.data).toBeUndefined();

    const join = await post(t.url, botToken, {
      documentId: idOf(JoinChannelDocument),
      variables: { channelId: w.general.id },
    });
    expect(join.body.errors).toBeUndefined();
    const sent = await post(t.url, botToken, {
      extensions: { persistedQuery: { version: 1, sha256Hash: idOf(SendMessageDocument).slice(7) } },
      variables: { input: { channelId: w.general.id, text: 'deployed' } },
    });
    expect(sent.body.errors).toBeUndefined();
    expect((sent.body.data?.['sendMessage'] as { text: string }).text).toBe('deployed');
  });

  it('an unknown id is PERSISTED_QUERY_NOT_FOUND and runs nothing', async () => {
    for (const token of [botToken, w.bob.token, null]) {
      const r = await post(t.url, token, { documentId: 'sha256:' + '0'.repeat(64) });
      expect(r.status).toBe(404);
      expect(r.body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_FOUND');
      expect(r.body.data).toBeUndefined();
    }
    const none = await post(t.url, w.bob.token, {});
    expect(none.status).toBe(400);
  });

  it('APQ: a user registers text under its hash, then sends the hash alone (GET); a wrong hash is refused', async () => {
    const query = '{ me { id name } }';
    const hash = sha256(query);
    const ext = (h: string) => ({ persistedQuery: { version: 1, sha256Hash: h } });
    const get = (token: string) =>
      fetch(`${t.url}?extensions=${encodeURIComponent(JSON.stringify(ext(hash)))}`, {
        headers: { authorization: `Bearer ${token}`, [CSRF_HEADER]: '1' },
      });

    const before = await get(w.bob.token);
    expect(before.status).toBe(404);
    expect(((await before.json()) as Body).errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_FOUND');

    const wrong = await post(t.url, w.bob.token, { query, extensions: ext(sha256('{ __typename }')) });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_HASH_MISMATCH');

    const register = await post(t.url, w.bob.token, { query, extensions: ext(hash) });
    expect(register.body.errors).toBeUndefined();
    const after = await get(w.bob.token);
    expect(after.status).toBe(200);
    expect(((await after.json()) as Body).data).toEqual({ me: { id: w.bob.id, name: 'Bob' } });

    // A user's registration does not widen what a bot may run.
    const bot = await post(t.url, botToken, { extensions: ext(hash) });
    expect(bot.body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('the same rule on the WebSocket: text refused for a bot, a manifest id subscribes', async () => {
    const socket = connect(t.url, botToken);
    try {
      const refused = await new Promise<unknown>((resolve) => {
        socket.client.subscribe(
          { query: print(ChannelEventsDocument), variables: { channelId: w.general.id } },
          { next: () => {}, error: resolve, complete: () => resolve(null) },
        );
      });
      expect((refused as { extensions?: Record<string, unknown> }[])[0]?.extensions?.['code']).toBe(
        'PERSISTED_QUERY_REQUIRED',
      );
      const unknown = await new Promise<unknown>((resolve) => {
        socket.client.subscribe(
          { query: '', extensions: { persistedQuery: { version: 1, sha256Hash: '1'.repeat(64) } } },
          { next: () => {}, error: resolve, complete: () => resolve(null) },
        );
      });
      expect((unknown as { extensions?: Record<string, unknown> }[])[0]?.extensions?.['code']).toBe(
        'PERSISTED_QUERY_NOT_FOUND',
      );

      // `after` replays what was missed: deterministic, no waiting for the live stream.
      const first = await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'one' } });
      await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'two' } });
      const event = await new Promise<unknown>((resolve) => {
        const stop = socket.client.subscribe(
          {
            query: '',
            variables: { channelId: w.general.id, after: first.sendMessage.id },
            extensions: { persistedQuery: { version: 1, sha256Hash: idOf(ChannelEventsDocument).slice(7) } },
          },
          {
            next: (r) => {
              stop();
              resolve(r);
            },
            error: resolve,
            complete: () => {},
          },
        );
      });
      expect(JSON.stringify(event)).toContain('"text":"two"');
    } finally {
      await socket.dispose();
    }
  });
});

describeApi('PERSISTED_ONLY=true', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ PERSISTED_DOCUMENTS: MANIFEST, PERSISTED_ONLY: 'true' });
  }, 120_000); // app start and fixtures: slow on a loaded machine
  afterAll(() => t?.stop());

  it('user sessions too run only manifest documents', async () => {
    const ann = await post(t.url, null, {
      documentId: idOf(SignUpDocument),
      variables: { email: `po-${process.pid}@example.com`, password: 'correct horse', name: 'Ann' },
    });
    const token = (ann.body.data?.['signUp'] as { token: string }).token;
    const text = await post(t.url, token, { query: '{ me { id } }' });
    expect(text.body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_REQUIRED');
    const byId = await post(t.url, token, { documentId: idOf(MeDocument) });
    expect(byId.body.errors).toBeUndefined();
  });
});
