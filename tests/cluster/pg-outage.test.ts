/**
 * PostgreSQL goes away for a few seconds under a real gateway process: a throwaway cluster the
 * test starts with initdb/pg_ctl on a free port is stopped with `-m immediate` (like a crash) and
 * started again. While it is down every request answers SERVICE_UNAVAILABLE (all of them answer
 * while the server is still down: nothing waits for it to come back), the process keeps running,
 * it recovers without a restart, and no acknowledged message is lost. A WebSocket that cannot
 * authenticate for want of the database is closed with 1013 Try Again Later, not 4500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Client } from '../helpers/app.js';
import { GatewayProcess } from '../helpers/gateway.js';
import { PostgresCluster, postgresBinDir } from '../helpers/pg-cluster.js';
import { eventually } from '../helpers/eventually.js';
import { RawSocket } from '../helpers/raw-ws.js';
import {
  CreateWorkspaceDocument,
  HistoryDocument,
  MeDocument,
  SendMessageDocument,
  SignUpDocument,
} from '../generated/gql/graphql.js';

describe.skipIf(!postgresBinDir())('PostgreSQL unavailable for a few seconds', () => {
  let cluster: PostgresCluster;
  let gw: GatewayProcess;

  beforeAll(async () => {
    cluster = await PostgresCluster.create();
    gw = await GatewayProcess.start({ DATABASE_URL: cluster.url, DATABASE_POOL_SIZE: '4' });
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
    cluster?.destroy();
  });

  it('answers SERVICE_UNAVAILABLE while it is down, keeps running, recovers without a restart, loses nothing acknowledged', async () => {
    const anon = new Client(gw.url);
    const r = await anon.ok(SignUpDocument, { email: 'ann@example.com', password: 'correct horse', name: 'Ann' });
    const ann = anon.withToken(r.signUp.token);
    const general = (await ann.ok(CreateWorkspaceDocument, { name: 'Outage' })).createWorkspace.channels[0]!.id;
    const acked: string[] = [];
    const send = (text: string) =>
      ann.request(SendMessageDocument, { input: { channelId: general, text, clientNonce: text } });
    for (let i = 0; i < 20; i++)
      acked.push(
        (await ann.ok(SendMessageDocument, { input: { channelId: general, text: `before ${i}` } })).sendMessage.id,
      );

    // A token the gateway has never looked up: its connection_init needs the database.
    const unseen = (await anon.ok(SignUpDocument, { email: 'bob@example.com', password: 'correct horse', name: 'Bob' }))
      .signUp.token;

    const pid = gw.pid;
    cluster.stop();
    // The socket cannot authenticate while the database is down: 1013 Try Again Later, not 4500.
    const socket = await RawSocket.open(gw.url, unseen);
    expect((await socket.closed).code).toBe(1013);
    const outage: { status: number; code: unknown }[] = [];
    for (let i = 0; i < 8; i++) {
      for (const res of await Promise.all([
        send(`during ${i}`),
        ann.request(HistoryDocument, { channelId: general, first: 10 }),
        ann.request(MeDocument),
        anon.request(SignUpDocument, { email: `x${i}@example.com`, password: 'correct horse', name: 'X' }),
      ])) {
        outage.push({ status: res.status, code: res.errors?.[0]?.extensions?.['code'] });
        if (res.data && 'sendMessage' in res.data) acked.push(res.data.sendMessage.id);
      }
    }
    // Every one of them answered while the server was still down, and said so.
    expect(outage.map((o) => o.code)).toEqual(outage.map(() => 'SERVICE_UNAVAILABLE'));
    expect(
      outage.filter((o) => o.status !== 503 && o.status !== 200),
      JSON.stringify(outage),
    ).toEqual([]);
    expect(gw.alive).toBe(true);

    cluster.start();
    const back = await eventually(
      () => ann.request(MeDocument),
      (res) => !!res.data?.me,
      30_000,
      100,
    );
    expect(back.errors).toBeUndefined();
    for (let i = 0; i < 20; i++)
      acked.push(
        (await ann.ok(SendMessageDocument, { input: { channelId: general, text: `after ${i}` } })).sendMessage.id,
      );
    expect(gw.alive).toBe(true);
    expect(gw.pid).toBe(pid);

    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    const rows = await db.query<{ id: string }>('SELECT id::text FROM messages WHERE channel_id = $1', [general]);
    await db.end();
    const stored = new Set(rows.rows.map((row) => row.id));
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
    expect(acked.length).toBeGreaterThanOrEqual(40);
  });
});
