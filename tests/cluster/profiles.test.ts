import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../helpers/app.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../helpers/db.js';
import { GatewayProcess } from '../helpers/gateway.js';
import { RedisShard, redisServerAvailable } from '../helpers/redis.js';
import { eventually } from '../helpers/eventually.js';
import {
  CreateWorkspaceDocument,
  HistoryDocument,
  JoinWorkspaceDocument,
  SendMessageDocument,
  SignUpDocument,
  UpdateProfileDocument,
} from '../generated/gql/graphql.js';

const ready = redisServerAvailable() && (await postgresAvailable());

/**
 * A profile change made through gateway A reaches gateway B's process-wide profile cache through
 * the profiles topic on the Redis ring. The cache TTL is ten minutes here, so only the event can
 * make B show the new name: the poll's bound is far below the TTL.
 */
describe.skipIf(!ready)('profile changes across two gateways', () => {
  let db: TestDatabase;
  let shards: RedisShard[] = [];
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    shards = await Promise.all([0, 1].map(() => RedisShard.start()));
    const env = {
      DATABASE_URL: db.config.kind === 'postgres' ? db.config.url : '',
      REDIS_URLS: shards.map((s) => s.url).join(','),
      REDIS_HEALTH_INTERVAL_MS: '250',
      PROFILE_CACHE_TTL_MS: '600000',
    };
    [a, b] = await Promise.all([GatewayProcess.start(env), GatewayProcess.start(env)]);
  }, 120_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await Promise.all(shards.map((s) => s.kill()));
    await db?.drop();
  });

  async function user(name: string) {
    const anon = new Client(a.url);
    const r = await anon.ok(SignUpDocument, {
      email: `${name}-${process.pid}-${Date.now()}@example.com`,
      password: 'correct horse',
      name,
    });
    return { id: r.signUp.user.id, onA: anon.withToken(r.signUp.token), onB: new Client(b.url, r.signUp.token) };
  }

  it('shows the new name on gateway B right after the change on gateway A', async () => {
    const ann = await user('Ann');
    const bob = await user('Bob');
    const ws = (await ann.onA.ok(CreateWorkspaceDocument, { name: 'Names' })).createWorkspace;
    await bob.onA.ok(JoinWorkspaceDocument, { inviteCode: ws.inviteCode });
    const general = ws.channels.find((c) => c.name === 'general')!.id;
    await bob.onA.ok(SendMessageDocument, { input: { channelId: general, text: 'hello' } });

    const authorsOnB = async () =>
      (await ann.onB.ok(HistoryDocument, { channelId: general, first: 5 })).messages.edges.map(
        (e) => e.node.author.name,
      );
    // B caches the page and Bob's profile (for ten minutes, were it not for the event).
    expect(await authorsOnB()).toEqual(['Bob']);
    expect(await authorsOnB()).toEqual(['Bob']);

    const changed = (await bob.onA.ok(UpdateProfileDocument, { input: { displayName: 'Robert', handle: 'rob' } }))
      .updateProfile;
    expect(changed).toMatchObject({ name: 'Robert', handle: 'rob' });
    // A sees it at once; B as soon as the event has crossed the ring.
    expect(
      (await ann.onA.ok(HistoryDocument, { channelId: general, first: 5 })).messages.edges[0]!.node.author.name,
    ).toBe('Robert');
    const seen = await eventually(authorsOnB, (names) => names[0] === 'Robert', 10_000);
    expect(seen).toEqual(['Robert']);
  });
});
