import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../helpers/app.js';
import { clusterAvailable, startCluster, type Cluster, type GatewayProcess } from '../helpers/gateway.js';
import { eventually } from '../helpers/eventually.js';
import {
  CreateWorkspaceDocument,
  HistoryDocument,
  JoinWorkspaceDocument,
  SendMessageDocument,
  SignUpDocument,
  UpdateProfileDocument,
} from '../generated/gql/graphql.js';

const ready = await clusterAvailable();

/**
 * A profile change made through gateway A reaches gateway B's process-wide profile cache through
 * the profiles topic on the Redis ring. The cache TTL is ten minutes here, so only the event can
 * make B show the new name: the poll's bound is far below the TTL.
 */
describe.skipIf(!ready)('profile changes across two gateways', () => {
  let cluster: Cluster | undefined;
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    cluster = await startCluster({ env: { PROFILE_CACHE_TTL_MS: '600000' } });
    [a, b] = cluster.gateways as [GatewayProcess, GatewayProcess];
  }, 120_000);
  afterAll(() => cluster?.stop());

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
