import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { Client, describeApi } from '../helpers/app.js';
import { createTestDatabase, testDbKind, type TestDatabase } from '../helpers/db.js';
import { connect } from '../helpers/ws.js';

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  [k: string]: unknown;
}

describeApi('operability: logs, request ids, /ready, /metrics', () => {
  let db: TestDatabase;
  let app: App;
  let url: string;
  let base: string;
  const raw: string[] = [];
  const lines = () =>
    raw
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LogLine);

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = {
      ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'debug', HOST: '127.0.0.1', PORT: '0' }),
      database: db.config,
    };
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        raw.push(chunk.toString());
        done();
      },
    });
    app = await buildApp(config, { log: createLogger(config, sink) });
    url = (await app.start()).url;
    base = url.replace(/\/graphql$/, '');
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  const post = (query: string, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query }),
    });

  it('a failed inline login: the answer is an error code, the log has no secret, nothing at ERROR, one access line with the request id', async () => {
    const secret = 'hunter2-inline-secret';
    const signUp = await post(
      `mutation SignUp { signUp(email: "obs@example.com", password: "${secret}-right", name: "Obs") { token } }`,
    );
    expect(signUp.status).toBe(200);
    const res = await post(`mutation LogIn { logIn(email: "obs@example.com", password: "${secret}") { token } }`, {
      'x-request-id': 'req-obs-1',
    });
    expect(res.headers.get('x-request-id')).toBe('req-obs-1');
    const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // A bad document is a client mistake too.
    const bad = await post(`mutation { logIn(email: "x@example.com", password: "${secret}" { token } }`);
    expect(bad.status).toBe(400);
    const made = bad.headers.get('x-request-id');
    expect(made).toMatch(/^[0-9a-f-]{36}$/);

    await new Promise((r) => setImmediate(r));
    const text = raw.join('');
    expect(text).not.toContain(secret);
    expect(lines().filter((l) => l.level >= 50)).toEqual([]);
    const access = lines().filter((l) => l.msg === 'request' && l.reqId === 'req-obs-1');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ operation: 'LogIn', status: 200, errors: ['UNAUTHENTICATED'] });
    expect(typeof access[0]!.ms).toBe('number');
    expect(lines().filter((l) => l.msg === 'request' && l.reqId === made)).toHaveLength(1);
  });

  it('the access line names the user; every line of a request carries its id', async () => {
    const r = (await (
      await post(
        `mutation { signUp(email: "who@example.com", password: "correct horse", name: "Who") { token user { id } } }`,
      )
    ).json()) as { data: { signUp: { token: string; user: { id: string } } } };
    const me = new Client(url, r.data.signUp.token);
    const res = await me.raw({ query: 'query Me { me { id } }' }, { 'x-request-id': 'req-obs-2' });
    expect(res.status).toBe(200);
    await new Promise((r) => setImmediate(r));
    const mine = lines().filter((l) => l.reqId === 'req-obs-2');
    expect(mine.length).toBeGreaterThanOrEqual(1);
    expect(mine.find((l) => l.msg === 'request')).toMatchObject({ operation: 'Me', userId: r.data.signUp.user.id });
  });

  it('/health is live, /ready checks the database, /metrics lists the documented metrics', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { database: 'ok', pubsub: 'memory', search: 'postgres ok' },
    });

    const r = (await (
      await post(`mutation { signUp(email: "ws@example.com", password: "correct horse", name: "Ws") { token } }`)
    ).json()) as { data: { signUp: { token: string } } };
    const ws = connect(url, r.data.signUp.token);
    await new Promise<void>((resolve, reject) => {
      const stop = ws.client.subscribe(
        { query: '{ me { id } }' },
        { next: () => {}, error: reject, complete: resolve },
      );
      void stop;
    });
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    for (const name of [
      'graphql_envelop_request_duration',
      'graphql_envelop_request',
      'graphql_envelop_error_result',
      'graphql_yoga_http_duration',
      'chat_graphql_errors_total',
      'chat_http_requests_in_flight',
      'chat_ws_connections',
      'chat_subscriptions',
      'chat_pubsub_topics',
      'chat_realtime_deliveries_total',
      'chat_realtime_direct_frames_total',
      'chat_badge_frames_total',
      'chat_ws_slow_disconnects_total',
      'chat_outbox_pending',
      'chat_outbox_retrying',
      'chat_outbox_lag_seconds',
      'nodejs_eventloop_lag_seconds',
      'process_resident_memory_bytes',
    ])
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    expect(text).toMatch(/^chat_ws_connections 1$/m);
    if (testDbKind === 'postgres') {
      expect(text).toMatch(/^chat_db_pool_connections [1-9]\d*$/m);
      expect(text).toMatch(/^chat_db_pool_waiting 0$/m);
    }
    expect(text).toMatch(/^graphql_envelop_request_duration_count\{[^}]*operationName="LogIn"[^}]*\} 1$/m);
    expect(text).toMatch(/^chat_graphql_errors_total\{code="UNAUTHENTICATED"\} 1$/m);
    expect(text).toMatch(/^chat_graphql_errors_total\{code="GRAPHQL_PARSE_FAILED"\} 1$/m);
    await ws.dispose();
  });
});
