import { request as httpRequest } from 'node:http';
import { print } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { testDbKind } from '../helpers/db.js';
import { Redis } from 'ioredis';
import { connect } from '../helpers/ws.js';
import { MANIFEST, idOf } from '../helpers/persisted.js';
import {
  ChannelEventsDocument,
  CreateBotDocument,
  JoinChannelDocument,
  LogInDocument,
  MeDocument,
  SendMessageDocument,
  SignUpDocument,
} from '../generated/gql/graphql.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

/** POST /graphql from a chosen loopback source address (each test its own "client IP"). */
function postFrom(
  url: string,
  from: string,
  token: string | null,
  body: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = httpRequest(
      url,
      {
        method: 'POST',
        localAddress: from,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...extraHeaders,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) as Reply['body'] }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Drops earlier runs' counters for these addresses (windows outlive a run in Redis). */
async function forgetAddresses(url: string, pattern: string) {
  const redis = new Redis(url);
  try {
    const keys = await redis.keys(`rl:*:ip:${pattern}`);
    if (keys.length) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

const codeOf = (r: Reply) => r.body.errors?.[0]?.extensions?.['code'];

/** Shared by the memory and the Redis runs: a bot and a user, limits small enough to reach. */
function rateLimitSuite(name: string, suite: number, env: Record<string, string>) {
  // Each suite and project its own loopback addresses, so runs sharing one Redis never share a bucket.
  const addr = (n: number) => `127.${suite}.${testDbKind === 'pglite' ? 1 : 2}.${n}`;
  describeApi(name, () => {
    let t: TestApp;
    let w: Awaited<ReturnType<typeof basicWorkspace>>;
    const bots: string[] = [];

    beforeAll(async () => {
      if (env['REDIS_URLS']) {
        await forgetAddresses(env['REDIS_URLS'], addr(0).replace(/0$/, '*'));
        await forgetAddresses(env['REDIS_URLS'], '127.0.0.1'); // the fixtures' sign-ups
      }
      t = await startTestApp({
        PERSISTED_DOCUMENTS: MANIFEST,
        RATE_LIMITS_ENABLED: 'true',
        RATE_LIMITS: 'bot.send=5/600,user.read=20/600,user.subscribe=3/600,account.login=3/600',
        ...env,
      });
      w = await basicWorkspace(t);
      for (const n of ['One', 'Two']) {
        const bot = await w.ann.client.ok(CreateBotDocument, {
          workspaceId: w.workspace.id,
          name: `${n} ${process.pid}`,
          scopes: ['CHAT_WRITE', 'CHANNELS_READ', 'CHANNELS_WRITE'],
        });
        bots.push(bot.createBot.token);
        const joined = await postFrom(t.url, addr(1), bot.createBot.token, {
          documentId: idOf(JoinChannelDocument),
          variables: { channelId: w.general.id },
        });
        expect(joined.body.errors).toBeUndefined();
      }
    }, 120_000); // app start and fixtures: slow on a loaded machine
    afterAll(() => t?.stop());

    it('a storm of sends from one bot token: exactly the tier goes through, 429s carry Retry-After and RateLimit headers; another bot is unaffected', async () => {
      const send = (token: string, i: number) =>
        postFrom(t.url, addr(2), token, {
          documentId: idOf(SendMessageDocument),
          variables: { input: { channelId: w.general.id, text: `storm ${i}` } },
        });
      const storm = await Promise.all(Array.from({ length: 40 }, (_, i) => send(bots[0]!, i)));
      const ok = storm.filter((r) => r.status === 200 && !r.body.errors);
      const limited = storm.filter((r) => r.status === 429);
      expect(ok.length).toBe(5);
      expect(limited.length).toBe(35);
      for (const r of limited) {
        expect(codeOf(r)).toBe('RATE_LIMITED');
        expect(r.body.errors?.[0]?.extensions?.['retryAfterMs']).toBeGreaterThan(0);
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
        expect(r.headers['ratelimit-policy']).toBe('"bot-send";q=5;w=600');
        expect(r.headers['ratelimit']).toMatch(/^"bot-send";r=0;t=\d+$/);
      }
      expect(ok[0]!.headers['ratelimit-policy']).toBe('"bot-send";q=5;w=600');

      const other = await send(bots[1]!, 99);
      expect(other.status).toBe(200);
      expect(other.body.errors).toBeUndefined();
    });

    it('reads per user token: limited at the tier, other users unaffected', async () => {
      const read = (token: string) => postFrom(t.url, addr(3), token, { query: print(MeDocument) });
      const burst = await Promise.all(Array.from({ length: 30 }, () => read(w.bob.token)));
      expect(burst.filter((r) => r.status === 200).length).toBe(20);
      expect(burst.filter((r) => r.status === 429).length).toBe(10);
      expect((await read(w.eve.token)).status).toBe(200);
    });

    it('log-in: after the free failures the account is locked (even for the right password); sign-up per IP', async () => {
      const logIn = (password: string, from = addr(4)) =>
        postFrom(t.url, from, null, { query: print(LogInDocument), variables: { email: w.eve.email, password } });
      for (let i = 0; i < 4; i++) expect(codeOf(await logIn('wrong password'))).toBe('UNAUTHENTICATED');
      const locked = await logIn('correct horse');
      expect(locked.status).toBe(429);
      expect(codeOf(locked)).toBe('RATE_LIMITED');
      expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Another address: the account's lock holds there too.
      expect(codeOf(await logIn('correct horse', addr(5)))).toBe('RATE_LIMITED');

      const signUp = (i: number) =>
        postFrom(t.url, addr(6), null, {
          query: print(SignUpDocument),
          variables: {
            email: `rl-${process.pid}-${i}-${name.length}@example.com`,
            password: 'correct horse',
            name: 'X',
          },
        });
      // The built-in tier: 10 sign-ups per address per hour.
      for (let i = 1; i <= 10; i++) expect((await signUp(i)).status).toBe(200);
      const eleventh = await signUp(11);
      expect(eleventh.status).toBe(429);
      expect(eleventh.headers['ratelimit-policy']).toBe('"ip-signup";q=10;w=3600');
    });

    it('subscriptions opened on the socket: the fourth gets RATE_LIMITED with retryAfterMs, the connection stays', async () => {
      const first = await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'a' } });
      await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'b' } });
      const socket = connect(t.url, w.ann.token);
      try {
        // `after` replays a message at once: an accepted subscription answers with an event.
        const open = () =>
          new Promise<unknown>((resolve) => {
            const stop = socket.client.subscribe(
              {
                query: print(ChannelEventsDocument),
                variables: { channelId: w.general.id, after: first.sendMessage.id },
              },
              {
                next: () => {
                  stop();
                  resolve('accepted');
                },
                error: resolve,
                complete: () => {},
              },
            );
          });
        const outcomes = [];
        for (let i = 0; i < 4; i++) outcomes.push(await open());
        expect(outcomes.slice(0, 3)).toEqual(['accepted', 'accepted', 'accepted']);
        const refused = outcomes[3] as { extensions?: Record<string, unknown> }[];
        expect(refused[0]!.extensions?.['code']).toBe('RATE_LIMITED');
        expect(refused[0]!.extensions?.['retryAfterMs']).toBeGreaterThan(0);
        // The connection stays: a query on it still answers.
        const me = await new Promise<unknown>((resolve) => {
          socket.client.subscribe({ query: '{ me { id } }' }, { next: resolve, error: resolve, complete: () => {} });
        });
        expect(me).toEqual({ data: { me: { id: w.ann.id } } });
      } finally {
        await socket.dispose();
      }
    });
  });
}

rateLimitSuite('rate limits (memory)', 10, {});
rateLimitSuite('rate limits (Redis)', 11, { REDIS_URLS: 'redis://127.0.0.1:6379' });

describeApi('the client address behind a trusted proxy (TRUST_PROXY)', () => {
  let t: TestApp;
  const db = testDbKind === 'pglite' ? 1 : 2;
  beforeAll(async () => {
    // Peers in 127.9.0.0/16 are the proxy; 127.8.x.x is a client connecting directly.
    t = await startTestApp({
      RATE_LIMITS_ENABLED: 'true',
      RATE_LIMITS: 'ip.signup=2/600',
      TRUST_PROXY: '127.9.0.0/16',
    });
  }, 120_000);
  afterAll(() => t?.stop());

  let n = 0;
  const signUp = (peer: string, forwardedFor: string) =>
    postFrom(
      t.url,
      peer,
      null,
      {
        query: print(SignUpDocument),
        variables: { email: `xff-${process.pid}-${db}-${++n}@example.com`, password: 'correct horse', name: 'X' },
      },
      { 'x-forwarded-for': forwardedFor },
    );

  it('limits each forwarded client on its own through the proxy, and ignores the header from anyone else', async () => {
    const proxy = `127.9.${db}.1`;
    expect((await signUp(proxy, '203.0.113.7')).status).toBe(200);
    expect((await signUp(proxy, '203.0.113.7')).status).toBe(200);
    expect((await signUp(proxy, '203.0.113.7')).status).toBe(429);
    // Another client behind the same proxy has its own bucket.
    expect((await signUp(proxy, '203.0.113.8')).status).toBe(200);
    // A direct client cannot pick its bucket by sending the header: it counts as its own address.
    const direct = `127.8.${db}.1`;
    expect((await signUp(direct, '198.51.100.1')).status).toBe(200);
    expect((await signUp(direct, '198.51.100.2')).status).toBe(200);
    expect((await signUp(direct, '198.51.100.3')).status).toBe(429);
  });
});
