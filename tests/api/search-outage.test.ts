/**
 * The search index goes down and comes back: sends keep working, nothing is lost (the outbox keeps
 * every change and retries with back-off), searches fail with SERVICE_UNAVAILABLE without leaking
 * the backend's error, the lag is observable, and the outbox drains when the index is back.
 * The app is the real one (buildApp over HTTP) with a fault-injecting wrapper around its index.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { SearchIndex } from '../../src/infra/search/search-index.port.js';
import { Client, describeApi } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { eventually } from '../helpers/eventually.js';
import {
  CreateWorkspaceDocument,
  EditMessageDocument,
  SearchCountDocument,
  SearchDocument,
  SendMessageDocument,
  SignUpDocument,
} from '../generated/gql/graphql.js';

describeApi('search while the index is down', () => {
  let testDb: TestDatabase;
  let app: App;
  let ann: Client;
  let generalId: string;
  let base: string;
  let down = false;
  const ready = async () => {
    const res = await fetch(`${base}/ready`);
    return {
      status: res.status,
      body: (await res.json()) as { status: string; checks: Record<string, string>; degraded?: string[] },
    };
  };

  /** Fails every call while `down`, like an unreachable server (with details that must never reach clients). */
  function flaky(index: SearchIndex): SearchIndex {
    const guard =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        if (down) throw new Error('connect ECONNREFUSED 10.9.8.7:8108 (api key sk-secret-123)');
        return fn(...a);
      };
    return {
      kind: index.kind,
      init: () => index.init(),
      ping: guard(() => index.ping()),
      upsert: guard((d) => index.upsert(d)),
      remove: guard((ids) => index.remove(ids)),
      search: guard((q) => index.search(q)),
      count: guard((f, cap) => index.count(f, cap)),
      beginRebuild: guard(() => index.beginRebuild()),
      close: () => index.close(),
    };
  }

  beforeAll(async () => {
    testDb = await createTestDatabase();
    const config = {
      ...loadConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        HOST: '127.0.0.1',
        PORT: '0',
        OUTBOX_POLL_MS: '50',
      }),
      database: testDb.config,
    };
    app = await buildApp(config, { decorateSearchIndex: flaky });
    const { url } = await app.start();
    base = url.replace(/\/graphql$/, '');
    const anon = new Client(url);
    const signUp = (
      await anon.ok(SignUpDocument, {
        email: `ann-outage-${process.pid}@example.com`,
        password: 'correct horse',
        name: 'Ann',
      })
    ).signUp;
    ann = anon.withToken(signUp.token);
    generalId = (await ann.ok(CreateWorkspaceDocument, { name: 'Outage' })).createWorkspace.channels.find(
      (c) => c.name === 'general',
    )!.id;
  });
  afterAll(async () => {
    await app?.stop();
    await testDb?.drop();
  });

  const count = async (query: string) => (await ann.ok(SearchCountDocument, { query })).search.totalCount;

  it('keeps every change in the outbox while the index is down and applies them all when it is back', async () => {
    const first = (
      await ann.ok(SendMessageDocument, { input: { channelId: generalId, text: 'pelican before the outage' } })
    ).sendMessage;
    expect(
      await eventually(
        () => count('pelican'),
        (n) => n === 1,
      ),
    ).toBe(1);

    down = true;
    const sent: string[] = [];
    for (const text of ['pelican one', 'pelican two', 'pelican three']) {
      sent.push((await ann.ok(SendMessageDocument, { input: { channelId: generalId, text } })).sendMessage.id);
    }
    await ann.ok(EditMessageDocument, { id: first.id, text: 'cormorant after the edit' });

    // Sends are acknowledged; the index writes fail and wait, with the reason kept.
    const lag = await eventually(
      () => app.outbox.lag(),
      (l) => l.pending === 4 && l.retrying === 4,
      10_000,
      25,
    );
    expect(lag).toMatchObject({ pending: 4, retrying: 4 });
    expect(lag.lagMs).toBeGreaterThan(0);
    // Each consumer retries its own copy of an event (outbox_deliveries); search's keep the error.
    const rows = await app.db.prisma.outboxDelivery.findMany({ where: { processedAt: null, consumer: 'search' } });
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.attempts >= 1 && r.lastError?.includes('ECONNREFUSED'))).toBe(true);

    // The gateway stays in rotation (it serves everything but search) and says what is missing.
    const during = await ready();
    expect(during.status).toBe(200);
    expect(during.body.status).toBe('ready');
    expect(during.body.degraded).toEqual(['search']);
    expect(during.body.checks.search).toMatch(/^degraded: connect ECONNREFUSED/);
    expect(during.body.checks.database).toBe('ok');

    // Searches fail cleanly: a code the client can act on, nothing of the backend's error.
    const r = await ann.request(SearchDocument, { query: 'pelican' });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'search/unavailable' });
    expect(JSON.stringify(r)).not.toMatch(/ECONNREFUSED|10\.9\.8\.7|sk-secret/);

    down = false;
    // Back-off is at most a few seconds at this point; every change lands, in order per message.
    expect(
      await eventually(
        () => count('pelican'),
        (n) => n === 3,
        20_000,
        50,
      ),
    ).toBe(3);
    expect(
      await eventually(
        () => count('cormorant'),
        (n) => n === 1,
        20_000,
        50,
      ),
    ).toBe(1);
    expect(
      await eventually(
        () => app.outbox.lag(),
        (l) => l.pending === 0,
        20_000,
        50,
      ),
    ).toMatchObject({ pending: 0, retrying: 0, lagMs: 0 });
    const ids = (await ann.ok(SearchDocument, { query: 'pelican', sort: 'NEWEST' })).search.edges.map(
      (e) => e.node.message.id,
    );
    expect(ids).toEqual([...sent].reverse());
    expect((await ready()).body).toEqual({
      status: 'ready',
      checks: { database: 'ok', pubsub: 'memory', search: 'postgres ok' },
    });
    const all = await app.db.prisma.outboxEvent.findMany();
    expect(all.every((e) => e.processedAt !== null && e.lastError === null)).toBe(true);
    const copies = await app.db.prisma.outboxDelivery.findMany();
    expect(copies.length).toBeGreaterThanOrEqual(all.length);
    expect(copies.every((e) => e.processedAt !== null && e.lastError === null)).toBe(true);
  });
});
