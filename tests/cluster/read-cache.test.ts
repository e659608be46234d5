import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../helpers/app.js';
import { clusterAvailable, startCluster, type Cluster, type GatewayProcess } from '../helpers/gateway.js';
import { waitUntil } from '../helpers/eventually.js';
import {
  CreateChannelDocument,
  CreateWorkspaceDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  HistoryDocument,
  JoinChannelDocument,
  JoinWorkspaceDocument,
  LeaveChannelDocument,
  InviteToChannelDocument,
  SendMessageDocument,
  SignUpDocument,
} from '../generated/gql/graphql.js';

const ready = await clusterAvailable();

/**
 * The per-gateway channel cache (newest pages, access passes) under writes from two gateways on
 * a Redis ring: each gateway's newest page is compared with the database (a cursor read, never
 * cached) after every write, on both gateways, while both keep reading (and caching) in between.
 */
describe.skipIf(!ready)('the channel cache across two gateways', () => {
  let cluster: Cluster | undefined;
  let g1: GatewayProcess;
  let g2: GatewayProcess;

  beforeAll(async () => {
    cluster = await startCluster();
    [g1, g2] = cluster.gateways as [GatewayProcess, GatewayProcess];
  }, 120_000);
  afterAll(() => cluster?.stop());

  async function user(name: string) {
    const anon = new Client(g1.url);
    const r = await anon.ok(SignUpDocument, {
      email: `${name}-${process.pid}-${Date.now()}@example.com`,
      password: 'correct horse',
      name,
    });
    // The same session on both gateways.
    return { id: r.signUp.user.id, on: [anon.withToken(r.signUp.token), new Client(g2.url, r.signUp.token)] };
  }

  it('serves every gateway the database newest page once the write has reached it, writes on either side', async () => {
    const ann = await user('Ann');
    const bob = await user('Bob');
    const ws = (await ann.on[0]!.ok(CreateWorkspaceDocument, { name: 'Cache' })).createWorkspace;
    await bob.on[1]!.ok(JoinWorkspaceDocument, { inviteCode: ws.inviteCode });
    const ch = (await ann.on[0]!.ok(CreateChannelDocument, { workspaceId: ws.id, name: 'hot' })).createChannel.id;
    await bob.on[1]!.ok(JoinChannelDocument, { channelId: ch });

    const page = async (c: Client, cached: boolean) =>
      JSON.stringify(
        (await c.ok(HistoryDocument, { channelId: ch, first: 10, ...(cached ? {} : { before: '1' }) })).messages.edges,
      );
    /** Both gateways' cached pages equal the database's (waiting for the event to reach each). */
    const converged = async (what: string) => {
      const truth = await page(ann.on[0]!, false);
      for (const c of [ann.on[0]!, bob.on[1]!]) {
        await waitUntil(async () => (await page(c, true)) === truth, 5_000, `${what}: ${c.url}`);
        expect(await page(c, true)).toBe(truth); // and it stays so
      }
    };

    const ids: string[] = [];
    // Writes alternate between gateways; reads on both sides between writes fill their caches.
    for (let i = 0; i < 8; i++) {
      const [writer, side] = i % 2 ? [bob, 1] : [ann, 0];
      ids.push(
        (await writer.on[side]!.ok(SendMessageDocument, { input: { channelId: ch, text: `m${i}` } })).sendMessage.id,
      );
      // The writer's own gateway sees its write at once.
      expect(await page(writer.on[side]!, true)).toBe(await page(writer.on[side]!, false));
      await page(bob.on[1]!, true);
      await page(ann.on[0]!, true);
      await converged(`send ${i}`);
    }
    await ann.on[0]!.ok(EditMessageDocument, { id: ids[6]!, text: 'm6 edited' });
    await page(bob.on[1]!, true);
    await converged('edit');
    await bob.on[1]!.ok(DeleteMessageDocument, { id: ids[7]! });
    await page(ann.on[0]!, true);
    await converged('delete');
    await bob.on[1]!.ok(SendMessageDocument, { input: { channelId: ch, text: 'reply', threadRootId: ids[2]! } });
    await converged('thread reply');
    expect(JSON.parse(await page(bob.on[1]!, true))).toHaveLength(7);
  });

  it('a member who left a private channel through one gateway is refused by the other, warm cache or not', async () => {
    const ann = await user('Ann');
    const bob = await user('Bob');
    const ws = (await ann.on[0]!.ok(CreateWorkspaceDocument, { name: 'Private' })).createWorkspace;
    await bob.on[1]!.ok(JoinWorkspaceDocument, { inviteCode: ws.inviteCode });
    const secret = (await ann.on[0]!.ok(CreateChannelDocument, { workspaceId: ws.id, name: 'secret', private: true }))
      .createChannel.id;
    await ann.on[0]!.ok(InviteToChannelDocument, { channelId: secret, userIds: [bob.id] });
    await ann.on[0]!.ok(SendMessageDocument, { input: { channelId: secret, text: 'members only' } });
    // Bob's pass and the page are cached on both gateways.
    for (const c of bob.on) expect((await c.ok(HistoryDocument, { channelId: secret })).messages.edges).toHaveLength(1);
    await bob.on[0]!.ok(LeaveChannelDocument, { channelId: secret });
    expect(await bob.on[0]!.errorCode(HistoryDocument, { channelId: secret })).toBe('NOT_FOUND');
    await waitUntil(
      async () => (await bob.on[1]!.request(HistoryDocument, { channelId: secret })).errors !== undefined,
      5_000,
      'gateway 2 hears the leave',
    );
    expect(await bob.on[1]!.errorCode(HistoryDocument, { channelId: secret })).toBe('NOT_FOUND');
  });
});
