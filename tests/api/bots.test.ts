import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { MANIFEST, idOf } from '../helpers/persisted.js';
import {
  BotTokensDocument,
  CreateBotDocument,
  InviteToChannelDocument,
  LogOutDocument,
  MeDocument,
  RevokeBotTokenDocument,
  RotateBotTokenDocument,
  SendMessageDocument,
} from '../generated/gql/graphql.js';
import { CSRF_HEADER } from '../../src/gateway/yoga.js';
import { connect, over } from '../helpers/ws.js';

interface Body {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

describeApi('bots end to end, CORS, limits that explain themselves', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;

  /** A bot's request: a manifest document by id (bots may not send text). */
  const asBot = async (token: string, doc: object, variables: Record<string, unknown> = {}) => {
    const res = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ documentId: idOf(doc), variables }),
    });
    return { status: res.status, body: (await res.json()) as Body };
  };
  const code = (b: Body) => b.errors?.[0]?.extensions?.['code'];

  beforeAll(async () => {
    t = await startTestApp({ PERSISTED_DOCUMENTS: MANIFEST, CORS_ORIGINS: 'https://app.example.com' });
    w = await basicWorkspace(t);
  }, 120_000); // app start and fixtures: slow on a loaded machine
  afterAll(() => t?.stop());

  it('a CHAT_WRITE-only bot sends where it was added, nowhere else; its logOut is refused and its token keeps working', async () => {
    const created = await w.ann.client.ok(CreateBotDocument, {
      workspaceId: w.workspace.id,
      name: 'Writer',
      scopes: ['CHAT_WRITE'],
    });
    const token = created.createBot.token;
    const send = (text: string) => asBot(token, SendMessageDocument, { input: { channelId: w.general.id, text } });

    // Not a member yet: refused like any non-member.
    expect(code((await send('too early')).body)).toBe('FORBIDDEN');
    await w.ann.client.ok(InviteToChannelDocument, {
      channelId: w.general.id,
      userIds: [created.createBot.bot.user.id],
    });
    const sent = await send('hello from a bot');
    expect(sent.body.errors).toBeUndefined();
    expect((sent.body.data?.['sendMessage'] as { text: string }).text).toBe('hello from a bot');

    // No CHANNELS_READ: reading is still refused (scopes compose, they do not widen).
    expect(code((await asBot(token, MeDocument)).body)).toBeUndefined(); // me needs no scope
    const out = await asBot(token, LogOutDocument);
    expect(code(out.body)).toBe('FORBIDDEN');
    expect(out.body.errors?.[0]?.message).toMatch(/rotateBotToken|revokeBotToken/);
    expect((await send('still here')).body.errors).toBeUndefined();
  });

  it('tokens: listed, rotated (the old one refused at once), revoked, with expiry; only admins manage them', async () => {
    const created = await w.ann.client.ok(CreateBotDocument, {
      workspaceId: w.workspace.id,
      name: 'Rotating',
      scopes: ['CHAT_WRITE'],
      expiresInDays: 30,
    });
    const botId = created.createBot.bot.id;
    const first = created.createBot.token;
    expect((await asBot(first, MeDocument)).status).toBe(200);

    const listed = (await w.ann.client.ok(BotTokensDocument, { botId })).botTokens;
    expect(listed).toHaveLength(1);
    expect(listed[0]!.active).toBe(true);
    expect(Date.parse(listed[0]!.expiresAt!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    const rotated = (await w.ann.client.ok(RotateBotTokenDocument, { botId })).rotateBotToken.token;
    expect(code((await asBot(first, MeDocument)).body)).toBe('UNAUTHENTICATED');
    expect((await asBot(rotated, MeDocument)).body.errors).toBeUndefined();

    const tokens = (await w.ann.client.ok(BotTokensDocument, { botId })).botTokens;
    expect(tokens.map((k) => k.active)).toEqual([true, false]);
    expect(tokens[1]!.revokedAt).not.toBeNull();

    // A member who is not an admin, and someone from another workspace, may not.
    expect(await w.bob.client.errorCode(RevokeBotTokenDocument, { tokenId: tokens[0]!.id })).toBe('FORBIDDEN');
    expect(await w.eve.client.errorCode(RevokeBotTokenDocument, { tokenId: tokens[0]!.id })).toBe('NOT_FOUND');
    expect(await w.eve.client.errorCode(BotTokensDocument, { botId })).toBe('NOT_FOUND');
    expect(await w.ann.client.errorCode(RotateBotTokenDocument, { botId, expiresInDays: 0 })).toBe('BAD_USER_INPUT');

    expect((await w.ann.client.ok(RevokeBotTokenDocument, { tokenId: tokens[0]!.id })).revokeBotToken).toBe(true);
    expect(code((await asBot(rotated, MeDocument)).body)).toBe('UNAUTHENTICATED');
    expect((await w.ann.client.ok(RevokeBotTokenDocument, { tokenId: tokens[0]!.id })).revokeBotToken).toBe(false);
  });

  it('CORS: a listed origin gets credentials, any other origin no CORS headers at all', async () => {
    const preflight = (origin: string) =>
      fetch(t.url, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type, authorization',
        },
      });
    const listed = await preflight('https://app.example.com');
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(listed.headers.get('access-control-allow-credentials')).toBe('true');
    const evil = await preflight('https://evil.example.net');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect(evil.headers.get('access-control-allow-credentials')).toBeNull();

    const post = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example.net', [CSRF_HEADER]: '1' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(post.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a page size above 100 is BAD_USER_INPUT naming the field and the limit, not a syntax error; so is a cost refusal', async () => {
    const res = await w.ann.client.raw({
      query: `{ messages(channelId: "${w.general.id}", first: 100000) { edges { node { id text } } } }`,
    });
    const body = (await res.json()) as Body;
    expect(res.status).toBe(400);
    expect(code(body)).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/^first must be between 1 and 100 .*messages.*a page holds at most 100/);
    expect(body.errors?.[0]?.message).not.toMatch(/Syntax Error/);

    // Within the page size, but a costly shape: 25 full pages (about 3,300 each by the estimate).
    const pages = Array.from(
      { length: 25 },
      (_, i) =>
        `p${i}: messages(channelId: "${w.general.id}", first: 100) { edges { node { id text author { id name } } } }`,
    );
    const costly = await w.ann.client.raw({ query: `{ ${pages.join('\n')} }` });
    const cb = (await costly.json()) as Body;
    expect(costly.status).toBe(400);
    expect(code(cb)).toBe('BAD_USER_INPUT');
    expect(cb.errors?.[0]?.message).toMatch(/estimated cost is \d+, above the limit of 20000/);
    expect(cb.errors?.[0]?.message).not.toMatch(/Syntax Error/);
  });

  it('over the WebSocket too: page size and cost refusals are BAD_USER_INPUT naming the limit, and the socket stays', async () => {
    const socket = connect(t.url, w.ann.token);
    const errorsOf = (query: string) =>
      new Promise<{ message: string; extensions?: Record<string, unknown> }[]>((resolve, reject) => {
        socket.client.subscribe(
          { query },
          { next: () => {}, error: (e) => resolve(e as never), complete: () => reject(new Error('no error')) },
        );
      });
    try {
      const page = await errorsOf(
        `{ messages(channelId: "${w.general.id}", first: 100000) { edges { node { id } } } }`,
      );
      expect(page[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      expect(page[0]?.message).toMatch(/^first must be between 1 and 100 .*a page holds at most 100/);
      const pages = Array.from(
        { length: 25 },
        (_, i) =>
          `p${i}: messages(channelId: "${w.general.id}", first: 100) { edges { node { id text author { id name } } } }`,
      );
      const cost = await errorsOf(`{ ${pages.join('\n')} }`);
      expect(cost[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      expect(cost[0]?.message).toMatch(/estimated cost is \d+, above the limit of 20000/);
      expect((await over(socket.client, MeDocument, {})).data?.me.id).toBe(w.ann.id);
    } finally {
      await socket.dispose();
    }
  });
});
