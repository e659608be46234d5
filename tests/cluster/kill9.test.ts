/**
 * kill -9 of a gateway during 500 concurrent sends. Clients send through gateway 1 with a client
 * nonce; a send that fails (connection cut, 5xx, SERVICE_UNAVAILABLE) is retried with the same nonce
 * through gateway 2, as a real client would. Gateway 1 is killed with SIGKILL part-way. Then every
 * send is acknowledged, every acknowledged message is in the channel exactly once (same id for
 * every acknowledgement of a nonce), and the channel's sequence numbers have no holes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Client } from '../helpers/app.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../helpers/db.js';
import { GatewayProcess } from '../helpers/gateway.js';
import { CreateWorkspaceDocument, SendMessageDocument, SignUpDocument } from '../generated/gql/graphql.js';

const SENDS = 500;
const CONCURRENCY = 50;
const KILL_AFTER = 150;

describe.skipIf(!(await postgresAvailable()))('kill -9 of a gateway during concurrent sends', () => {
  let db: TestDatabase;
  let g1: GatewayProcess;
  let g2: GatewayProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = { DATABASE_URL: db.config.kind === 'postgres' ? db.config.url : '' };
    g1 = await GatewayProcess.start(env);
    g2 = await GatewayProcess.start(env);
  }, 120_000);
  afterAll(async () => {
    await g1?.stop();
    await g2?.stop();
    await db?.drop();
  });

  it('every acknowledged message is stored exactly once and the channel sequence has no holes', async () => {
    const anon = new Client(g2.url);
    const r = await anon.ok(SignUpDocument, { email: 'ann@example.com', password: 'correct horse', name: 'Ann' });
    const token = r.signUp.token;
    const general = (await anon.withToken(token).ok(CreateWorkspaceDocument, { name: 'Kill' })).createWorkspace
      .channels[0]!.id;
    const via = [new Client(g1.url, token), new Client(g2.url, token)];

    const acked = new Map<string, string>(); // nonce → message id
    const stats = { retries: 0, ackedBeforeKill: 0, failuresOnG1: 0 };
    const kill: { done: Promise<void> | null } = { done: null };

    async function sendOne(i: number) {
      const nonce = `nonce-${i}`;
      for (let attempt = 0; attempt < 20; attempt++) {
        const client = attempt === 0 ? via[0]! : via[1]!;
        try {
          const res = await client.request(SendMessageDocument, {
            input: { channelId: general, text: `message ${i}`, clientNonce: nonce },
          });
          const id = res.data?.sendMessage?.id;
          if (id) {
            const prior = acked.get(nonce);
            if (prior) expect(id, `nonce ${nonce} acknowledged with two ids`).toBe(prior);
            acked.set(nonce, id);
            if (!kill.done && acked.size >= KILL_AFTER) {
              stats.ackedBeforeKill = acked.size;
              kill.done = g1.kill9();
            }
            return;
          }
        } catch {
          // connection refused or cut: retry
        }
        if (attempt === 0) stats.failuresOnG1++;
        stats.retries++;
      }
      throw new Error(`send ${i} never acknowledged`);
    }

    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < SENDS) await sendOne(next++);
      }),
    );
    await kill.done;
    expect(g1.alive).toBe(false);
    // The kill happened mid-run: sends were cut off on gateway 1 and retried on gateway 2.
    expect(stats.ackedBeforeKill).toBeLessThan(SENDS);
    expect(stats.failuresOnG1).toBeGreaterThan(0);
    expect(acked.size).toBe(SENDS);

    const conn = new pg.Client({ connectionString: db.config.kind === 'postgres' ? db.config.url : '' });
    await conn.connect();
    const rows = (
      await conn.query<{ id: string; seq: string; nonce: string }>(
        'SELECT id::text, seq::text, client_nonce AS nonce FROM messages WHERE channel_id = $1 ORDER BY messages.seq',
        [general],
      )
    ).rows;
    await conn.end();
    // Exactly once: one row a nonce, and it is the acknowledged id.
    expect(rows.length).toBe(SENDS);
    expect(new Set(rows.map((row) => row.nonce)).size).toBe(SENDS);
    for (const row of rows) expect(acked.get(row.nonce)).toBe(row.id);
    // No holes: seqs are consecutive.
    const seqs = rows.map((row) => Number(row.seq));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    console.log(
      `kill -9: ${stats.ackedBeforeKill} acknowledged before the kill, ${stats.failuresOnG1} sends cut off on gateway 1, ${stats.retries} retries, ${Date.now() - started} ms`,
    );
  }, 180_000);
});
