/**
 * bench:cluster — many gateways joined by the Redis ring, beside one gateway on the in-memory
 * engine, in the same run; then shard failover.
 *
 *  1. memory: one gateway process (in-memory pub/sub). The load generator (a separate process,
 *     bench/lib/ws-fanout.ts) opens BENCH_ONLINE sockets (a `badges` subscription each), the first
 *     BENCH_VIEWERS also view the channel; BENCH_MESSAGES are sent over HTTP at BENCH_RATE/s.
 *  2. ring: 3 redis-server shards and 2 gateway processes; the same sockets spread over both
 *     gateways (even to gateway 1, odd to gateway 2), messages sent through gateway 1, so half
 *     the viewers get each message across gateways through Redis.
 *  3. failover: kill the shard owning the channel's topic while a sender posts every 50 ms through
 *     gateway 1 and a viewer listens on gateway 2; the time from the kill to the first message
 *     delivered again (live, or replayed by the gateway after the topic moved); restart; 5 times.
 *
 * Deliveries/s = (full pushes + badge frames) / (first send -> last frame); latency = HTTP send
 * start -> frame at the viewer, both in the load generator (one clock). Loopback only; bounded.
 *
 * Wrong results fail the run (exit code 1, listed after the report): any send error (load phases
 * and failover sender), full pushes not exactly viewers x messages, duplicates or missing pushes,
 * badge unread counts that differ from the database, a kill after which nothing is delivered, and
 * a failover message (acknowledged) that the viewer never got, or got twice.
 *
 * Knobs (env): BENCH_ONLINE (2000), BENCH_VIEWERS (200), BENCH_MESSAGES (300), BENCH_RATE (50),
 * BENCH_KILLS (5). PostgreSQL: the scratch database `chat_bench_cluster` (or DATABASE_URL).
 */
import { cpus, totalmem } from 'node:os';
import pg from 'pg';
import { createDatabase } from '../src/infra/db/database.js';
import { migrate } from '../src/infra/db/migrator.js';
import { HashRing } from '../src/infra/pubsub/hash-ring.js';
import { topics } from '../src/domain/events/topics.js';
import { GatewayProcess } from '../tests/helpers/gateway.js';
import { RedisShard } from '../tests/helpers/redis.js';
import { connect, subscribe } from '../tests/helpers/ws.js';
import { ChannelEventsDocument } from '../tests/generated/gql/graphql.js';
import {
  badgeFailures,
  checkBadgeCounts,
  phaseFailures,
  startFanoutClient,
  type PhaseJob,
  type PhaseResult,
} from './lib/ws-fanout.js';
import { fmt, formatTable, percentile } from './lib/stats.js';
import { seed } from './seed.js';
import { dropScratch, prepareDatabase } from './lib/scratch-db.js';
import { envInt } from './lib/env.js';
import { Failures } from './lib/failures.js';

const DB = 'chat_bench_cluster';
const ONLINE = envInt('BENCH_ONLINE', 2_000);
const VIEWERS = envInt('BENCH_VIEWERS', 200);
const MESSAGES = envInt('BENCH_MESSAGES', 300);
const RATE = envInt('BENCH_RATE', 50);
const KILLS = envInt('BENCH_KILLS', 5, 0);
const FLUSH_MS = 250;
/** A channel quiet this long gets one trailing badge frame with the exact counts (passive badge sessions). */
const SETTLE_MS = 2_000;
const log = (m: string) => process.stderr.write(`[bench:cluster] ${new Date().toISOString().slice(11, 19)} ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wrong results, printed after the report; exit code 1. */
const failures = new Failures('bench:cluster');

interface Row {
  setup: string;
  r: PhaseResult;
}

async function runLoad(
  setup: string,
  urls: string[],
  sendUrl: string,
  tokens: string[],
  senderTokens: string[],
  channelId: string,
  db: { pool: pg.Pool; userIds: string[] },
): Promise<Row> {
  const client = await startFanoutClient();
  try {
    const c = await client.connect({
      url: urls[0]!,
      urls,
      tokens,
      viewers: VIEWERS,
      channelId,
      batch: 200,
      deadlineMs: 120_000,
    });
    if (c.failed) throw new Error(`${setup}: ${c.failed} connections failed: ${c.errorSamples.join(' | ')}`);
    log(`${setup}: ${c.opened} sockets over ${urls.length} gateway(s) in ${fmt(c.durationMs / 1000)} s`);
    await sleep(2_000); // subscriptions registered everywhere
    const job: PhaseJob = {
      name: setup,
      mode: 'send',
      tag: 'c',
      messages: MESSAGES,
      rate: RATE,
      concurrency: 4,
      url: sendUrl,
      senderTokens,
      channelId,
      filler: ' lorem ipsum dolor sit amet consectetur adipiscing elit',
      viewers: VIEWERS,
      flushMs: FLUSH_MS,
      // Long enough for the trailing badge frame (SETTLE_MS after the last message), which the
      // badge check compares with the database.
      quietMs: 2 * FLUSH_MS + SETTLE_MS + 500,
      sendBudgetMs: (MESSAGES / RATE) * 1000 + 45_000,
      drainMs: 60_000,
    };
    const r = await client.phase(job);
    log(
      `${setup}: sent ${r.sent} (${r.sendErrors} errors), full ${r.fullPushes}/${r.expectedFullPushes}, badges ${r.badgeFrames}, p99 ${fmt(r.latency.p99)} ms`,
    );
    failures.add(...phaseFailures(setup, r));
    failures.add(...badgeFailures(setup, await checkBadgeCounts(db.pool, channelId, db.userIds, r)));
    return { setup, r };
  } finally {
    await client.close();
  }
}

async function main() {
  const watchdog = setTimeout(() => {
    log('ABORT: still running after 15 minutes');
    process.exit(2);
  }, 15 * 60_000);
  watchdog.unref();
  const { url: dbUrl, scratch } = await prepareDatabase(DB);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  pool.on('error', (err) => log(`pool: ${err.message}`));
  const shards: RedisShard[] = [];
  const gateways: GatewayProcess[] = [];
  const rows: Row[] = [];
  const kills: number[] = [];
  try {
    const db = await createDatabase({ kind: 'postgres', url: dbUrl, poolSize: 2 });
    let fx: Awaited<ReturnType<typeof seed>>;
    try {
      await migrate(db);
      fx = await seed(db, {
        users: ONLINE + 8,
        channels: 1,
        messages: 0,
        tokenUsers: ONLINE + 8,
        onProgress: () => {},
      });
    } finally {
      await db.close();
    }
    const channelId = fx.channelIds[0]!;
    const tokens = fx.tokens.slice(0, ONLINE).map((t) => t.token);
    const load = { pool, userIds: fx.tokens.slice(0, ONLINE).map((t) => t.userId) };
    const senders = fx.tokens.slice(ONLINE, ONLINE + 8).map((t) => t.token);
    const base = {
      DATABASE_URL: dbUrl,
      NODE_ENV: 'production',
      // Production refuses a per-process secret for fs file URLs (FILE_SIGNING_SECRET)
      FILE_SIGNING_SECRET: process.env.FILE_SIGNING_SECRET ?? 'bench-file-signing-secret-0123456789',
      // The load comes from a few users on one address: rate limits would measure themselves.
      RATE_LIMITS_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      OUTBOX_WORKER: 'off',
      BADGE_FLUSH_MS: String(FLUSH_MS),
      BADGE_SETTLE_MS: String(SETTLE_MS),
    };

    // 1. One gateway, in-memory engine.
    const solo = await GatewayProcess.start(base);
    gateways.push(solo);
    rows.push(await runLoad('memory, 1 gateway', [solo.url], solo.url, tokens, senders, channelId, load));
    await solo.stop();
    gateways.pop();

    // 2. Two gateways over three shards.
    for (let i = 0; i < 3; i++) shards.push(await RedisShard.start());
    const ringEnv = { ...base, REDIS_URLS: shards.map((s) => s.url).join(','), REDIS_HEALTH_INTERVAL_MS: '500' };
    const g1 = await GatewayProcess.start(ringEnv);
    const g2 = await GatewayProcess.start(ringEnv);
    gateways.push(g1, g2);
    rows.push(
      await runLoad('redis ring, 2 gateways, 3 shards', [g1.url, g2.url], g1.url, tokens, senders, channelId, load),
    );

    // 3. Failover: kill the shard that owns the channel topic, KILLS times.
    const ring = new HashRing(shards.map((s, i) => `shard-${i}:127.0.0.1:${s.port}`));
    const owner = ring.route(topics.channel(channelId).shardKey)!;
    const victim = shards[Number(/^shard-(\d+)/.exec(owner)![1])]!;
    log(`channel topic lives on ${owner}`);
    const viewer = connect(g2.url, fx.tokens[0]!.token);
    const sub = subscribe(viewer.client, ChannelEventsDocument, { channelId });
    await sleep(1_000);
    // A send is acknowledged (its id returned) or an error: a write is committed before its
    // publish, and a failed publish does not fail it, so a shard down is no reason to fail a send.
    let failoverSendErrors = 0;
    const failoverErrorSamples: string[] = [];
    const failoverSent = new Set<string>();
    const sendOne = async (text: string): Promise<string | null> => {
      try {
        const res = await fetch(g1.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${senders[0]}` },
          body: JSON.stringify({
            query: 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
            variables: { i: { channelId, text } },
          }),
        });
        const body = await res.text();
        const j = JSON.parse(body) as { data?: { sendMessage?: { id: string } }; errors?: unknown[] };
        const id = j.data?.sendMessage?.id;
        if (res.status !== 200 || j.errors?.length || !id) throw new Error(`HTTP ${res.status}: ${body.slice(0, 200)}`);
        failoverSent.add(id);
        return id;
      } catch (err) {
        failoverSendErrors++;
        if (failoverErrorSamples.length < 3) failoverErrorSamples.push(`${text}: ${(err as Error).message}`);
        return null;
      }
    };
    for (let k = 0; k < KILLS; k++) {
      const sentAfter = new Set<string>();
      let stop = false;
      let killedAt: number | null = null;
      const sender = (async () => {
        for (let i = 0; !stop && i < 400; i++) {
          const id = await sendOne(`failover ${k}.${i}`);
          if (id !== null && killedAt !== null) sentAfter.add(id);
          await sleep(50);
        }
      })();
      await sleep(500);
      const seenBefore = sub.events.length;
      await victim.kill();
      killedAt = performance.now();
      let back: number | null = null;
      while (performance.now() - killedAt < 20_000) {
        const fresh = sub.events
          .slice(seenBefore)
          .some((e) => e.channel.__typename === 'MessagePosted' && sentAfter.has(e.channel.message.id));
        if (fresh) {
          back = performance.now() - killedAt;
          break;
        }
        await sleep(10);
      }
      stop = true;
      await sender;
      kills.push(back ?? Number.POSITIVE_INFINITY);
      log(`kill ${k + 1}: first delivery after ${back === null ? 'NEVER (20 s)' : `${fmt(back)} ms`}`);
      failures.check(
        back !== null,
        `failover kill ${k + 1}: no message sent after the kill reached the viewer within 20 s`,
      );
      await victim.restart();
      await sleep(3_000); // the topic moves back
    }
    // Every acknowledged failover message reaches the viewer exactly once (live, or replayed after
    // the topic moved; replayed ids are deduplicated against late live copies).
    const delivered = () => {
      const seen = new Map<string, number>();
      for (const e of sub.events) {
        if (e.channel.__typename === 'MessagePosted' && failoverSent.has(e.channel.message.id))
          seen.set(e.channel.message.id, (seen.get(e.channel.message.id) ?? 0) + 1);
      }
      return seen;
    };
    await sub.until(() => delivered().size === failoverSent.size, 10_000).catch(() => {});
    const seen = delivered();
    const missing = [...failoverSent].filter((id) => !seen.has(id));
    const dupes = [...seen].filter(([, n]) => n > 1);
    log(
      `failover: ${failoverSent.size} messages acknowledged (${failoverSendErrors} send errors), ${seen.size} delivered, ${missing.length} missing, ${dupes.length} duplicated`,
    );
    failures.check(
      failoverSendErrors === 0,
      () => `failover: ${failoverSendErrors} send errors, e.g. ${failoverErrorSamples.join(' | ')}`,
    );
    failures.check(
      missing.length === 0,
      () =>
        `failover: ${missing.length} of ${failoverSent.size} acknowledged messages never reached the viewer (e.g. ${missing.slice(0, 3).join(', ')})`,
    );
    failures.check(
      dupes.length === 0,
      () =>
        `failover: ${dupes.length} messages delivered more than once (e.g. ${dupes
          .slice(0, 3)
          .map(([id, n]) => `${id} x${n}`)
          .join(', ')})`,
    );
    failures.check(
      sub.errors.length === 0,
      () => `failover viewer: subscription errors ${JSON.stringify(sub.errors).slice(0, 300)}`,
    );
    await viewer.dispose();
  } finally {
    for (const g of gateways) await g.stop();
    for (const s of shards) await s.kill();
    await pool.end().catch(() => {});
    if (scratch) await dropScratch(DB).catch((e: unknown) => log(`could not drop ${DB}: ${(e as Error).message}`));
  }

  const perSec = (r: PhaseResult) => ((r.fullPushes + r.badgeFrames) / r.windowMs) * 1000;
  console.log(`bench:cluster  ${new Date().toISOString()}`);
  console.log(
    `node ${process.version}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; gateways, redis-server shards, PostgreSQL and the load generator share the machine`,
  );
  console.log(
    `load: ${ONLINE} sockets (badges), ${VIEWERS} of them viewing; ${MESSAGES} messages at ${RATE}/s sent over HTTP through gateway 1`,
  );
  console.log();
  console.log(
    formatTable(
      [
        { title: 'setup' },
        ...[
          'sent',
          'full pushes',
          'expected',
          'badge frames',
          'deliveries/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'dupes',
          'missing',
        ].map((title) => ({ title, align: 'right' as const })),
      ],
      rows.map(({ setup, r }) =>
        [
          setup,
          r.sent,
          r.fullPushes,
          r.expectedFullPushes,
          r.badgeFrames,
          Math.round(perSec(r)),
          fmt(r.latency.p50),
          fmt(r.latency.p99),
          fmt(r.latency.max),
          r.duplicates,
          r.missing,
        ].map(String),
      ),
    ),
  );
  const [mem, ringRow] = rows;
  if (mem && ringRow) {
    console.log(
      `ring / memory: deliveries/s ${fmt(perSec(ringRow.r) / perSec(mem.r))}x, p50 ${fmt(ringRow.r.latency.p50 / mem.r.latency.p50)}x, p99 ${fmt(ringRow.r.latency.p99 / mem.r.latency.p99)}x`,
    );
  }
  const finite = kills.filter(Number.isFinite).sort((a, b) => a - b);
  console.log(
    `shard kill -> first message delivered again (${kills.length} kills): ${kills.map((k) => (Number.isFinite(k) ? `${fmt(k)} ms` : 'never')).join(', ')}`,
  );
  console.log(`median ${finite.length ? fmt(percentile(finite, 50)) : '-'} ms (goal: under 5,000 ms)`);
  failures.report();
}

main().catch((err) => {
  console.error(err);
  failures.report();
  process.exit(1);
});
