import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { RedisShard } from '../helpers/redis.js';
import { GatewayProcess, clusterAvailable, startCluster, type Cluster } from '../helpers/gateway.js';
import { connect, over, subscribe } from '../helpers/ws.js';
import { waitUntil } from '../helpers/eventually.js';
import { HashRing } from '../../src/infra/pubsub/hash-ring.js';
import { topics } from '../../src/domain/events/topics.js';
import {
  BadgesDocument,
  ChannelDocument,
  ChannelEventsDocument,
  CreateWorkspaceDocument,
  JoinWorkspaceDocument,
  MeDocument,
  PresenceOfDocument,
  SendMessageDocument,
  SignUpDocument,
  TypingDocument,
  TypingInDocument,
} from '../generated/gql/graphql.js';

const ready = await clusterAvailable();

describe.skipIf(!ready)('two gateways, three redis shards', () => {
  let cluster: Cluster | undefined;
  let db: TestDatabase;
  let shards: RedisShard[] = [];
  let g1: GatewayProcess;
  let g2: GatewayProcess;
  const sockets: { dispose: () => void }[] = [];

  beforeAll(async () => {
    cluster = await startCluster({
      shards: 3,
      env: {
        BADGE_FLUSH_MS: '50',
        PRESENCE_OFFLINE_GRACE_MS: '200',
        LOG_LEVEL: 'info', // the leased worker id is logged at start
      },
    });
    ({ db, shards } = cluster);
    [g1, g2] = cluster.gateways as [GatewayProcess, GatewayProcess];
  }, 120_000);
  afterAll(async () => {
    for (const s of sockets) s.dispose();
    await cluster?.stop();
  });

  async function user(gw: GatewayProcess, name: string) {
    const anon = new Client(gw.url);
    const r = await anon.ok(SignUpDocument, {
      email: `${name}-${Date.now()}@example.com`,
      password: 'correct horse',
      name,
    });
    return { id: r.signUp.user.id, token: r.signUp.token, http: anon.withToken(r.signUp.token) };
  }

  it('lets a user on gateway 1 and a user on gateway 2 chat, type and see presence in real time, then survives a shard dying', async () => {
    const ann = await user(g1, 'Ann');
    const bob = await user(g2, 'Bob');
    const ws = (await ann.http.ok(CreateWorkspaceDocument, { name: 'Two gateways' })).createWorkspace;
    await bob.http.ok(JoinWorkspaceDocument, { inviteCode: ws.inviteCode });
    const general = ws.channels[0]!.id;

    const annWs = connect(g1.url, ann.token);
    const bobWs = connect(g2.url, bob.token);
    sockets.push(annWs, bobWs);
    const bobSees = subscribe(bobWs.client, ChannelEventsDocument, { channelId: general });
    const annTyping = subscribe(annWs.client, TypingInDocument, { channelId: general });
    const annPresence = subscribe(annWs.client, PresenceOfDocument, { userIds: [bob.id] });
    await over(bobWs.client, MeDocument, {});
    await annPresence.until(
      () => annPresence.events.some((e) => e.presence.status === 'ONLINE'),
      5_000,
      'Bob online across gateways',
    );

    // Messages cross gateways: sent through gateway 1, pushed by gateway 2.
    const sent: string[] = [];
    for (let i = 0; i < 5; i++)
      sent.push(
        (await ann.http.ok(SendMessageDocument, { input: { channelId: general, text: `m${i}` } })).sendMessage.id,
      );
    await bobSees.count(5);
    await bob.http.ok(TypingDocument, { channelId: general });
    await annTyping.count(1);
    expect(annTyping.events[0]!.typing.userId).toBe(bob.id);

    // Badges cross gateways too.
    const annBadges = subscribe(annWs.client, BadgesDocument, {});
    await over(annWs.client, MeDocument, {});
    await new Promise((r) => setTimeout(r, 200));
    await bob.http.ok(SendMessageDocument, { input: { channelId: general, text: `hey <@${ann.id}>` } });
    await annBadges.until(
      () => annBadges.events.some((e) => e.badges.channels.some((c) => c.mentionCount === 1)),
      5_000,
      'cross-gateway badge',
    );
    await bobSees.count(6);

    // Kill the shard that owns the channel's topic (named as the ring names it) while Ann keeps
    // sending; nothing acknowledged is lost and Bob sees each message exactly once.
    const ring = new HashRing(shards.map((s, i) => `shard-${i}:${new URL(s.url).host}`));
    const owner = ring.route(topics.channel(general).shardKey)!;
    const victim = shards[Number(/^shard-(\d+):/.exec(owner)![1])]!;
    const logFrom = [g1, g2].map((g) => g.output.length);
    const logSince = (i: number) => [g1, g2][i]!.output.slice(logFrom[i]).join('');
    const killedAt = Date.now();
    await victim.kill();
    let firstAfterKill: number | null = null;
    const during: string[] = [];
    for (let i = 0; i < 30; i++) {
      during.push(
        (await ann.http.ok(SendMessageDocument, { input: { channelId: general, text: `during ${i}` } })).sendMessage.id,
      );
      await new Promise((r) => setTimeout(r, 100));
      if (
        firstAfterKill === null &&
        bobSees.events.some((e) => e.channel.__typename === 'MessagePosted' && during.includes(e.channel.message.id))
      )
        firstAfterKill = Date.now() - killedAt;
    }
    await bobSees.until(() => bobSees.events.length >= 6 + 30, 10_000, 'all messages sent during the outage');
    const ids = bobSees.events
      .map((e) => (e.channel.__typename === 'MessagePosted' ? e.channel.message.id : null))
      .filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length); // exactly once
    for (const id of [...sent, ...during]) expect(ids).toContain(id);
    expect(firstAfterKill).not.toBeNull();
    expect(firstAfterKill!).toBeLessThan(5_000);
    // Gateway 1 published to the dead owner before it took it off the ring: those publishes failed
    // and were dropped, so the messages they announced reached Bob only by gateway 2 replaying the
    // gap from the database, which it did when it moved the topic (its gap signal).
    const failedPublishes = logSince(0)
      .split('\n')
      .filter((l) => l.includes('publish failed') && l.includes(`"topic":"${topics.channel(general).name}"`));
    expect(failedPublishes.length, `gateway 1 log:\n${logSince(0)}`).toBeGreaterThan(0);
    expect(logSince(1)).toContain(`"shard":"${owner}","msg":"redis shard off the ring"`);
    expect(logSince(1)).toContain('topics moved between shards');

    // The shard comes back: topics move back, delivery goes on without loss.
    await victim.restart();
    await new Promise((r) => setTimeout(r, 1_500));
    const after: string[] = [];
    for (let i = 0; i < 5; i++)
      after.push(
        (await ann.http.ok(SendMessageDocument, { input: { channelId: general, text: `back ${i}` } })).sendMessage.id,
      );
    await bobSees.until(
      () =>
        after.every((id) =>
          bobSees.events.some((e) => e.channel.__typename === 'MessagePosted' && e.channel.message.id === id),
        ),
      10_000,
      'messages after recovery',
    );
    const all = bobSees.events
      .map((e) => (e.channel.__typename === 'MessagePosted' ? e.channel.message.id : null))
      .filter(Boolean);
    expect(new Set(all).size).toBe(all.length);

    // Badge counts still equal the database after the failover.
    await waitUntil(
      async () => {
        const db = (await ann.http.ok(ChannelDocument, { id: general })).channel!;
        const last = annBadges.events
          .flatMap((e) => e.badges.channels)
          .filter((c) => c.channelId === general)
          .at(-1);
        return !!last && last.unreadCount === db.unreadCount && last.mentionCount === db.mentionCount;
      },
      5_000,
      'badges equal to the database',
    );

    // Presence lives in Redis: Bob disconnects from gateway 2, Ann (gateway 1) sees him go offline.
    await bobWs.dispose();
    await annPresence.until(() => annPresence.events.at(-1)!.presence.status === 'OFFLINE', 10_000, 'Bob offline');
  }, 120_000);

  it('gives every gateway its own leased snowflake worker id', () => {
    const ids = [g1, g2].map((g) => Number(/"workerId":(\d+)/.exec(g.output.join(''))?.[1]));
    expect(ids.every((n) => Number.isInteger(n) && n >= 0 && n <= 1023)).toBe(true);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('runs N gateway processes on one port with --gateways N', async () => {
    const env = {
      DATABASE_URL: db.config.kind === 'postgres' ? db.config.url : '',
      REDIS_URLS: shards.map((s) => s.url).join(','),
      LOG_LEVEL: 'info',
    };
    const pair = await GatewayProcess.start(env, ['--gateways', '2']);
    try {
      await waitUntil(
        () => (pair.output.join('').match(/Chat API ready at/g) ?? []).length === 2,
        60_000,
        'two gateways ready',
      );
      const text = pair.output.join('');
      const pids = new Set([...text.matchAll(/\[gateway pid (\d+)\]/g)].map((m) => m[1]));
      const ids = new Set([...text.matchAll(/"workerId":(\d+)/g)].map((m) => m[1]));
      expect(pids.size).toBe(2);
      expect(ids.size).toBe(2);
      const anon = new Client(pair.url);
      for (let i = 0; i < 4; i++) expect((await anon.raw({ query: '{ __typename }' })).status).toBe(200);
    } finally {
      await pair.stop();
    }
  }, 90_000);

  it('never leases one worker id twice, and frees it on release', async () => {
    const { Redis } = await import('ioredis');
    const { leaseWorkerId } = await import('../../src/infra/ids/worker-lease.js');
    const r = new Redis(shards[1]!.url);
    try {
      const lost: Error[] = [];
      const leases = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          leaseWorkerId(
            () => r,
            `owner-${i}`,
            (e) => lost.push(e),
          ),
        ),
      );
      expect(new Set(leases.map((l) => l.workerId)).size).toBe(20);
      const first = leases[0]!;
      expect(await r.get(`worker-id:${first.workerId}`)).toBe('owner-0');
      await first.release();
      expect(await r.get(`worker-id:${first.workerId}`)).toBeNull();
      await Promise.all(leases.slice(1).map((l) => l.release()));
      expect(lost).toEqual([]);
    } finally {
      r.disconnect();
    }
  });
});
