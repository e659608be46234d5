/**
 * A reconnect storm: 500 sockets subscribed to one channel drop at once while messages keep being
 * sent, then all reconnect at the same moment and resubscribe with `after` (the last message each
 * one saw). Every socket converges to the database: it gets exactly the messages it missed, in
 * order, once, then live ones again. The SQL statements the storm costs are counted (not timed),
 * reported and bounded per socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { basicWorkspace, startTestApp, type TestApp } from '../helpers/app.js';
import { postgresAvailable } from '../helpers/db.js';
import { RawSocket } from '../helpers/raw-ws.js';
import { SendMessageDocument } from '../generated/gql/graphql.js';

const SOCKETS = Number(process.env.STORM_SOCKETS ?? 500);
const MISSED = 20;
/** Statements a reconnecting socket may cost (auth, access check, replay), beyond a fixed allowance. */
const PER_SOCKET = 6;

describe.skipIf(!(await postgresAvailable()))('a reconnect storm', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let sockets: RawSocket[] = [];

  beforeAll(async () => {
    t = await startTestApp({ OUTBOX_WORKER: 'off' });
    w = await basicWorkspace(t);
  }, 120_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await t?.stop();
  });

  const query = `subscription S($c: ID!, $after: ID) { channel(channelId: $c, after: $after) { __typename ... on MessagePosted { message { id } } } }`;
  const posted = (s: RawSocket) =>
    s.messages
      .filter((m) => m.type === 'next')
      .map((m) => (m.payload as { data?: { channel?: { message?: { id: string } } } }).data?.channel?.message?.id)
      .filter((id): id is string => !!id);

  async function openAll(after: string | null) {
    const out: RawSocket[] = [];
    // All at once, in waves of 100 handshakes (the listen backlog), each subscribing as soon as it is acknowledged.
    for (let i = 0; i < SOCKETS; i += 100) {
      out.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(100, SOCKETS - i) }, async () => {
            const s = await RawSocket.open(t.url, w.bob.token);
            s.send(
              JSON.stringify({
                type: 'subscribe',
                id: 'c',
                payload: { query, variables: { c: w.general.id, after } },
              }),
            );
            return s;
          }),
        )),
      );
    }
    return out;
  }

  const send = async (text: string) =>
    (await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text } })).sendMessage.id;

  async function allSee(id: string) {
    for (const s of sockets) {
      const seen = await s.until(
        (m) => m.type === 'error' || (m.type === 'next' && JSON.stringify(m.payload).includes(`"${id}"`)),
        0,
        60_000,
      );
      expect(seen?.type, `a socket did not get ${id}: ${JSON.stringify(s.messages.slice(-3))}`).toBe('next');
    }
  }

  it(`${SOCKETS} sockets dropped at once reconnect with after and converge to the database; statements bounded`, async () => {
    const listens = t.app.realtime.hub.stats().listens;
    sockets = await openAll(null);
    // Every subscription listening before the first message (a subscription from now does not
    // get what was published before it listened), waited for by count, not by time.
    const deadline = Date.now() + 120_000;
    while (t.app.realtime.hub.stats().listens < listens + SOCKETS) {
      if (Date.now() > deadline) throw new Error('the subscriptions never all listened');
      await new Promise((r) => setTimeout(r, 20));
    }
    // Live: a first message reaches everyone (each subscription is running).
    const first = await send('before the storm');
    await allSee(first);

    // Drop every socket at once (no close handshake), and send while they are away.
    for (const s of sockets) s.close();
    const missed: string[] = [];
    for (let i = 0; i < MISSED; i++) missed.push(await send(`missed ${i}`));

    const before = t.app.db.statements.count;
    sockets = await openAll(first);
    await allSee(missed.at(-1)!);
    const stormStatements = t.app.db.statements.count - before;

    // Live again after the replay, and nothing twice or out of order.
    const live = await send('after the storm');
    await allSee(live);
    const conn = new pg.Client({
      connectionString: t.config.database.kind === 'postgres' ? t.config.database.url : '',
    });
    await conn.connect();
    const stored = (
      await conn.query<{ id: string }>(
        'SELECT id::text FROM messages WHERE channel_id = $1 AND id > $2 AND listed ORDER BY seq',
        [w.general.id, first],
      )
    ).rows.map((r) => r.id);
    await conn.end();
    expect(stored).toEqual([...missed, live]);
    for (const s of sockets) expect(posted(s)).toEqual(stored);

    console.log(
      `reconnect storm: ${SOCKETS} sockets, ${MISSED} missed messages, ${stormStatements} SQL statements (${(stormStatements / SOCKETS).toFixed(2)} a socket)`,
    );
    expect(stormStatements).toBeLessThanOrEqual(PER_SOCKET * SOCKETS + 50);
  }, 240_000);
});
