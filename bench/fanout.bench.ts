/**
 * Fan-out benchmark (`npm run bench:fanout`): one channel with 50,000 members, 10,000 of them
 * online (a `badges` subscription each), 500 of them viewing the channel (a `channel`
 * subscription each); 1,000 messages sent at 100 per second. Measures what the design promises
 * for large channels: full pushes only to viewers, badge frames coalesced per flush window,
 * against the naive design (the full message to every online member) in the same run.
 *
 * Processes: the gateway is the real server, built with buildApp in this process (so
 * websocket.stats(), the hub and badge manager can be read directly); the load generator
 * (bench/lib/ws-fanout.ts: 10,000 raw graphql-transport-ws clients on `ws`, and the HTTP
 * senders) is a forked child process. PostgreSQL only: the scratch database
 * `chat_bench_fanout` on postgresql://postgres@127.0.0.1:5432 is recreated and dropped at the end
 * (BENCH_KEEP_DB=1 keeps it); with DATABASE_URL set, that (empty) database is used instead.
 *
 * Phases, on the same gateway and the same sockets, each one starting once the previous is quiet:
 *   warm-up       BENCH_WARMUP messages (JIT, pools), not reported
 *   design        BENCH_MESSAGES at BENCH_RATE/s: 500 viewers get full pushes, 9,500 badge frames
 *   design blast  BENCH_BLAST messages as fast as BENCH_BLAST_CONCURRENCY senders go
 *   design inject BENCH_INJECT messages written by the bench, whose MessagePosted events are then
 *                 published at once into the gateway's pub/sub (as sends handled by other
 *                 processes arrive): the gateway's fan-out without the send path on its loop
 *   naive         every online connection drops `badges` and subscribes to `channel` (the full
 *                 message to every online member); BENCH_NAIVE_MESSAGES at BENCH_NAIVE_RATE/s,
 *                 then BENCH_NAIVE_BLAST and BENCH_NAIVE_INJECT as above
 *   design paced  BENCH_PACED messages injected like that, but one every 1000 / BENCH_RATE ms
 *                 (0 = skipped): the fan-out's latency at the send phase's offered rate
 *   floor         a bare `ws` process (bench/lib/ws-floor.ts) holding the same 10,000 sockets (a
 *                 second load generator, the same tokens and viewers) writes BENCH_INJECT
 *                 pre-encoded frames to the same viewers: no GraphQL, database or pub/sub. The
 *                 design's inject phase is reported as a share of it (BENCH_FLOOR=0 skips it);
 *                 with BENCH_PACED, also that many frames at BENCH_RATE/s, the latency floor
 * A send phase starts no send after messages / rate + BENCH_SEND_SLACK_S and reports how many it
 * sent; then it waits at most BENCH_DRAIN_S for the pushes still due. The gateway saturating is a
 * result to report, not a reason to run forever.
 *
 * Knobs (env): BENCH_MEMBERS (50000), BENCH_ONLINE (10000), BENCH_VIEWERS (500), BENCH_MESSAGES
 * (1000), BENCH_RATE (100), BENCH_SENDERS (8), BENCH_WARMUP (10), BENCH_BLAST (500),
 * BENCH_BLAST_CONCURRENCY (8), BENCH_INJECT (300), BENCH_NAIVE_MESSAGES (100), BENCH_NAIVE_RATE
 * (100), BENCH_NAIVE_BLAST (50), BENCH_NAIVE_INJECT (50), BENCH_CONNECT_BATCH (200), BENCH_CONNECT_DEADLINE_S (600),
 * BENCH_SEND_SLACK_S (45), BENCH_DRAIN_S (120), BENCH_TIMEOUT_S (840), BENCH_KEEP_DB, BENCH_HEAP_SNAPSHOT; and the
 * server's own settings as it reads them (BADGE_FLUSH_MS, SUBSCRIPTION_QUEUE_LIMIT,
 * WS_MAX_BUFFERED_BYTES, DATABASE_POOL_SIZE; OUTBOX_WORKER defaults to off here).
 */
import { cpus, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import pg from 'pg';
import { buildApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createSnowflake } from '../src/infra/ids/snowflake.js';
import { topics } from '../src/domain/events/topics.js';
import {
  badgeFailures,
  checkBadgeCounts,
  phaseFailures,
  startFanoutClient,
  type BadgeCheck,
  type FanoutClient,
  type PhaseJob,
  type PhaseResult,
} from './lib/ws-fanout.js';
import { Failures } from './lib/failures.js';
import { fmt, fmtRatio, formatTable, ratio } from './lib/stats.js';
import { seed } from './seed.js';
import { dropScratch, prepareDatabase, withMigratedDatabase } from './lib/scratch-db.js';
import { envInt, gatewayEnv } from './lib/env.js';
import { startFloor } from './lib/ws-floor.js';

const SCRATCH_DB = 'chat_bench_fanout';

const MEMBERS = envInt('BENCH_MEMBERS', 50_000);
const ONLINE = envInt('BENCH_ONLINE', 10_000);
const VIEWERS = envInt('BENCH_VIEWERS', 500);
const MESSAGES = envInt('BENCH_MESSAGES', 1_000);
const RATE = envInt('BENCH_RATE', 100);
const SENDERS = envInt('BENCH_SENDERS', 8);
const WARMUP = envInt('BENCH_WARMUP', 10, 0);
const BLAST = envInt('BENCH_BLAST', 500, 0);
const BLAST_CONCURRENCY = envInt('BENCH_BLAST_CONCURRENCY', 8);
const INJECT = envInt('BENCH_INJECT', 300, 0);
/**
 * BENCH_PACED (0 = skip): that many messages injected at BENCH_RATE/s (one every 1000 / rate ms)
 * instead of at once, into the gateway and into the floor: the latency the fan-out alone gives at
 * the send phase's offered rate, against what a bare ws process gives on the same machine.
 */
const PACED = envInt('BENCH_PACED', 0, 0);
const NAIVE_MESSAGES = envInt('BENCH_NAIVE_MESSAGES', 100, 0);
const NAIVE_RATE = envInt('BENCH_NAIVE_RATE', 100);
const NAIVE_BLAST = envInt('BENCH_NAIVE_BLAST', 50, 0);
const NAIVE_INJECT = envInt('BENCH_NAIVE_INJECT', 50, 0);
const CONNECT_BATCH = envInt('BENCH_CONNECT_BATCH', 200);
const CONNECT_DEADLINE_S = envInt('BENCH_CONNECT_DEADLINE_S', 600);
const TIMEOUT_S = envInt('BENCH_TIMEOUT_S', 840);
/** A send phase stops starting sends this long after its nominal duration (messages / rate). */
const SEND_SLACK_S = envInt('BENCH_SEND_SLACK_S', 45);
/** After the last send: the longest wait for the pushes still due. */
const DRAIN_S = envInt('BENCH_DRAIN_S', 120);

const GOAL_BYTES_RATIO = 15;
const GOAL_P99_MS = 100;
const GOAL_ACK_P99_MS = 100;
const GOAL_RATE = 50_000;
/** Inject-phase deliveries/s as a share of the raw `ws` floor's, measured in the same run. */
const GOAL_FLOOR_RATIO = 0.5;
const GOAL_RSS_PER_CONN = 12 * 1024;
const GOAL_BADGES_PER_MEMBER_MINUTE = 4;
/** BENCH_HEAP_SNAPSHOT=<prefix>: V8 heap snapshots <prefix>.before/.after.heapsnapshot around the connect phase (per-connection memory). */
const HEAP_SNAPSHOT = process.env.BENCH_HEAP_SNAPSHOT;
/** BENCH_FLOOR=0 skips the floor (a bare ws process with the same sockets and frames). */
const FLOOR = envInt('BENCH_FLOOR', 1, 0) > 0;
/** Senders are members with a token who are not online (so they get no badge frames). */
const SENDER_USERS = Math.max(SENDERS, BLAST_CONCURRENCY);
const FILLER = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt';

const log = (msg: string) => process.stderr.write(`[bench:fanout] ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class BenchAbort extends Error {
  override name = 'BenchAbort';
}

// ---------------------------------------------------------------------------------------------

/** A full GC before memory readings (gc is not exposed under a plain `tsx` run). */
const gc: () => void = (() => {
  try {
    v8.setFlagsFromString('--expose_gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return () => {};
  }
})();

function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const n = Number(line?.trim().split(/\s+/)[3]);
    return Number.isFinite(n) ? n : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

// ---------------------------------------------------------------------------------------------

interface ServerSample {
  shared: number;
  own: number;
  cpuMs: number;
  loopP99: number;
  loopMax: number;
}

interface Row {
  design: 'design' | 'naive' | 'floor';
  what: string;
  result: PhaseResult;
  server: ServerSample;
  /** Last badge unread counts against the database (null: no badge subscription to check). */
  badges: BadgeCheck | null;
}

const deliveries = (r: PhaseResult) => r.fullPushes + r.badgeFrames;
const perSecond = (n: number, ms: number) => (ms > 0 ? (n / ms) * 1000 : Number.NaN);
const wsBytes = (r: PhaseResult) => r.fullBytes + r.badgeBytes;
const bytesPerMessage = (r: PhaseResult) => (r.sent > 0 ? wsBytes(r) / r.sent : Number.NaN);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const pass = (ok: boolean) => (ok ? 'PASS' : 'MISS');

/** Flushes that can fall in a window of `ms` (the most badge frames one connection may get). */
/**
 * Passive badge sessions: per member not viewing, a frame when the channel turns unread (or its
 * mention count changes; the fixture sends no mentions), at most one refresh per BADGE_REFRESH_MS
 * while it talks, and one trailing frame once it has been quiet for BADGE_SETTLE_MS.
 */
const badgeBound = (ms: number, refreshMs: number) => 1 + Math.floor(ms / refreshMs) + 1;

function table(rows: Row[]): string {
  return formatTable(
    [
      { title: 'phase' },
      { title: 'what' },
      { title: 'msgs', align: 'right' },
      { title: 'full pushes', align: 'right' },
      { title: 'expected', align: 'right' },
      { title: 'badge frames', align: 'right' },
      { title: 'WS bytes', align: 'right' },
      { title: 'bytes/msg', align: 'right' },
      { title: 'window s', align: 'right' },
      { title: 'deliveries/s', align: 'right' },
      { title: 'p50 ms', align: 'right' },
      { title: 'p90 ms', align: 'right' },
      { title: 'p99 ms', align: 'right' },
      { title: 'max ms', align: 'right' },
    ],
    rows.map((r) => {
      const x = r.result;
      return [
        r.design,
        r.what,
        String(x.sent),
        int(x.fullPushes),
        int(x.expectedFullPushes),
        int(x.badgeFrames),
        mb(wsBytes(x)),
        int(bytesPerMessage(x)),
        fmt(x.windowMs / 1000, 2),
        int(perSecond(deliveries(x), x.windowMs)),
        fmt(x.latency.p50),
        fmt(x.latency.p90),
        fmt(x.latency.p99),
        fmt(x.latency.max),
      ];
    }),
  );
}

function detailLines(rows: Row[]): string[] {
  return rows.map((r) => {
    const x = r.result;
    const parts = [
      `${r.design} ${r.what}:`,
      x.mode === 'send'
        ? `sent ${x.sent} of ${x.requested} (${x.sendErrors} errors${x.sendTruncated ? ', SEND BUDGET RAN OUT' : ''}) over ${fmt(x.sendSpanMs / 1000)} s ` +
          `(${fmt(perSecond(x.sent, x.sendSpanMs), 1)}/s achieved), sendMessage round trip p50 ${fmt(x.ack.p50)} / p99 ${fmt(x.ack.p99)} ms;`
        : `${x.sent} events injected;`,
      `duplicates ${x.duplicates}, missing ${x.missing}, strays ${x.strays}, invalid ${x.invalid} (${x.validated} validated in full);`,
      `badge frames max ${x.maxBadgeFramesPerConnection}/connection on ${int(x.badgeConnections)} connections, min gap ${fmt(x.minBadgeGapMs, 1)} ms, on viewers ${x.badgeFramesOnViewers};`,
      r.badges
        ? `last badge unread count = database on ${int(r.badges.checked - r.badges.mismatches)}/${int(r.badges.checked)} connections;`
        : 'badge counts not checked (no badge subscriptions);',
      `TCP bytes read ${mb(x.tcpBytes)};`,
      `renders shared ${int(r.server.shared)} / own ${int(r.server.own)};`,
      `gateway CPU ${fmt(r.server.cpuMs / 1000, 1)} s (${fmt((r.server.cpuMs / Math.max(1, deliveries(x))) * 1000, 1)} us/delivery), event-loop delay p99 ${fmt(r.server.loopP99, 1)} / max ${fmt(r.server.loopMax, 1)} ms;`,
      `load generator CPU ${fmt(x.clientCpuMs / 1000, 1)} s, its event-loop delay p99 ${fmt(x.clientLoopDelay.p99, 1)} / max ${fmt(x.clientLoopDelay.max, 1)} ms`,
    ];
    if (x.preFrames) parts.push(`; ${x.preFrames} frames of the previous phase waited out first`);
    if (x.closed) parts.push(`; ${x.closed} connections closed: ${x.closeSamples.join(' | ')}`);
    if (x.timedOut) parts.push('; TIMED OUT');
    return parts.join(' ');
  });
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = new Date();
  const watchdog = setTimeout(() => {
    log(`ABORT: still running after ${TIMEOUT_S} s (BENCH_TIMEOUT_S)`);
    process.exit(2);
  }, TIMEOUT_S * 1000);
  watchdog.unref();

  if (VIEWERS > ONLINE) throw new RangeError('BENCH_VIEWERS must be <= BENCH_ONLINE');
  if (ONLINE + SENDER_USERS > MEMBERS) throw new RangeError('BENCH_MEMBERS must be >= BENCH_ONLINE + senders');
  const fdLimit = openFileLimit();
  if (fdLimit < ONLINE + 512) {
    throw new BenchAbort(
      `open-file limit ${fdLimit} is too low for ${ONLINE} sockets per process; raise it (ulimit -n ${ONLINE + 1024})`,
    );
  }

  const { url: dbUrl, scratch } = await prepareDatabase(SCRATCH_DB);
  log(`database: ${scratch ? `${SCRATCH_DB} (scratch, recreated)` : 'DATABASE_URL'}`);
  let app: App | null = null;
  let client: FanoutClient | null = null;
  let pool: pg.Pool | null = null;
  const rows: Row[] = [];
  /** Wrong results (every phase, warm-ups too), printed after the report; exit code 1. */
  const failures = new Failures('bench:fanout');
  let failed = false;
  try {
    // 1. Fixture: one workspace, MEMBERS users, #general with all of them, tokens for the online
    //    users and the senders (bulk SQL through bench/seed.ts), no messages (nothing unread).
    const t0 = performance.now();
    const fx = await withMigratedDatabase(dbUrl, async (db) => {
      const seeded = await seed(db, {
        users: MEMBERS,
        channels: 1,
        messages: 0,
        tokenUsers: ONLINE + SENDER_USERS,
        onProgress: (m) => log(`seed: ${m}`),
      });
      await db.withSession((s) => s.exec('VACUUM ANALYZE'));
      return seeded;
    });
    const channelId = fx.channelIds[0] as string;
    const onlineTokens = fx.tokens.slice(0, ONLINE).map((t) => t.token);
    const onlineUserIds = fx.tokens.slice(0, ONLINE).map((t) => t.userId);
    const senderTokens = fx.tokens.slice(ONLINE, ONLINE + SENDER_USERS).map((t) => t.token);
    const seedMs = performance.now() - t0;
    log(
      `fixture ready in ${(seedMs / 1000).toFixed(1)} s: ${MEMBERS} members of #general (${channelId}), ${fx.tokens.length} tokens`,
    );

    // 2. The gateway: the real server, production settings, in this process.
    const config = loadConfig(
      gatewayEnv(dbUrl, {
        // One gateway: search indexing (the outbox consumer) runs in its own process (`main.ts worker`).
        OUTBOX_WORKER: process.env.OUTBOX_WORKER ?? 'off',
      }),
    );
    app = await buildApp(config);
    const { url } = await app.start();
    const flushMs = config.realtime.badgeFlushMs;
    log(
      `gateway listening at ${url} (BADGE_FLUSH_MS ${flushMs}, SUBSCRIPTION_QUEUE_LIMIT ${config.realtime.subscriptionQueueLimit})`,
    );
    const queueRoom = config.realtime.subscriptionQueueLimit;
    if (Math.max(BLAST, INJECT, NAIVE_BLAST, NAIVE_INJECT) >= queueRoom) {
      throw new BenchAbort(
        `blast/inject sizes must stay under SUBSCRIPTION_QUEUE_LIMIT (${queueRoom}), or slow-consumer disconnects are expected`,
      );
    }
    pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
    pool.on('error', (err) => log(`pool: ${err.message}`));

    // 3. The load generator, a separate process; 10,000 connections.
    client = await startFanoutClient();
    log(`load generator: pid ${client.pid}`);
    gc();
    if (HEAP_SNAPSHOT)
      log(`heap snapshot before connect: ${v8.writeHeapSnapshot(`${HEAP_SNAPSHOT}.before.heapsnapshot`)}`);
    const memBefore = process.memoryUsage();
    const conn = await client.connect({
      url,
      tokens: onlineTokens,
      viewers: VIEWERS,
      channelId,
      batch: CONNECT_BATCH,
      deadlineMs: CONNECT_DEADLINE_S * 1000,
    });
    log(`connected ${conn.opened}/${ONLINE} in ${(conn.durationMs / 1000).toFixed(1)} s (${conn.failed} failed)`);
    if (conn.failed > 0 || conn.opened !== ONLINE)
      throw new BenchAbort(`connections failed: ${conn.errorSamples.join(' | ')}`);

    const app_ = app;
    const pool_ = pool;
    const waitReady = async (what: string, check: () => boolean, ms: number) => {
      const deadline = performance.now() + ms;
      while (!check()) {
        if (performance.now() > deadline) {
          throw new BenchAbort(
            `${what}: not ready after ${ms / 1000} s (hub ${JSON.stringify(app_.realtime.hub.stats())}, badges ${JSON.stringify(app_.realtime.badges.stats())}, ws ${JSON.stringify(app_.websocket.stats())})`,
          );
        }
        await sleep(100);
      }
    };
    // Each badge session listens to its user topic (the channel is listened to once, by its badge
    // group); each viewer listens to the channel.
    await waitReady(
      'subscriptions',
      () =>
        app_.realtime.badges.stats().sessions === ONLINE && app_.realtime.hub.stats().listeners >= ONLINE + 1 + VIEWERS,
      240_000,
    );
    await sleep(500);
    gc();
    const memAfter = process.memoryUsage();
    log(
      `memory after connect: heap +${mb(memAfter.heapUsed - memBefore.heapUsed)}, RSS +${mb(memAfter.rss - memBefore.rss)} ` +
        `(${int((memAfter.heapUsed - memBefore.heapUsed) / ONLINE)} B heap, ${int((memAfter.rss - memBefore.rss) / ONLINE)} B RSS per connection)`,
    );
    if (HEAP_SNAPSHOT)
      log(`heap snapshot after connect: ${v8.writeHeapSnapshot(`${HEAP_SNAPSHOT}.after.heapsnapshot`)}`);
    const t1 = performance.now();
    log(
      `server ready: ${JSON.stringify(app.websocket.stats())}, hub ${JSON.stringify(app.realtime.hub.stats())}, ${((t1 - t0 - seedMs) / 1000).toFixed(1)} s after start`,
    );

    // 4. Phases.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    const baseJob = {
      url,
      senderTokens,
      channelId,
      filler: FILLER,
      flushMs,
      // Long enough for the trailing badge frame (BADGE_SETTLE_MS after the last message).
      quietMs: 2 * flushMs + config.realtime.badgeSettleMs + 500,
      drainMs: DRAIN_S * 1000,
    };
    const run = async (
      design: Row['design'],
      what: string,
      job: PhaseJob,
      inject?: () => Promise<void>,
      report = true,
    ): Promise<PhaseResult> => {
      const s0 = app_.websocket.stats();
      const cpu0 = process.cpuUsage();
      loop.reset();
      loop.enable();
      const r = await client!.phase(job, inject);
      loop.disable();
      const cpu = process.cpuUsage(cpu0);
      const s1 = app_.websocket.stats();
      const server: ServerSample = {
        shared: s1.sharedRenders - s0.sharedRenders,
        own: s1.ownRenders - s0.ownRenders,
        cpuMs: (cpu.user + cpu.system) / 1000,
        loopP99: loop.percentile(99) / 1e6,
        loopMax: loop.max / 1e6,
      };
      log(
        `${design} ${what}: sent ${r.sent} (${r.sendErrors} errors), full ${r.fullPushes}/${r.expectedFullPushes}, badges ${r.badgeFrames}, ` +
          `${mb(wsBytes(r))}, window ${fmt(r.windowMs / 1000)} s, ${int(perSecond(deliveries(r), r.windowMs))} deliveries/s, ` +
          `p50 ${fmt(r.latency.p50)} p99 ${fmt(r.latency.p99)} ms, gateway CPU ${fmt(server.cpuMs / 1000, 1)} s${r.timedOut ? ' TIMED OUT' : ''}`,
      );
      if (r.sendErrors) log(`  send errors: ${r.sendErrorSamples.join(' | ')}`);
      if (r.invalid) log(`  invalid frames: ${r.invalidSamples.join(' | ')}`);
      if (r.otherFrames) log(`  other frames (${r.otherFrames}): ${r.otherSamples.join(' | ')}`);
      if (r.closed) log(`  closed: ${r.closeSamples.join(' | ')}`);
      const label = `${design} ${what}`;
      failures.add(...phaseFailures(label, r));
      const checked = await checkBadgeCounts(pool_, channelId, onlineUserIds, r);
      const badges = checked.checked > 0 ? checked : null;
      if (badges) {
        failures.add(...badgeFailures(label, badges));
        if (badges.mismatches)
          log(
            `  badge counts differ from the database: ${badges.mismatches}, e.g. ${badges.mismatchSamples.join(' | ')}`,
          );
      }
      if (report) rows.push({ design, what, result: r, server, badges });
      return r;
    };
    const sendJob = (
      name: string,
      tag: string,
      messages: number,
      rate: number,
      concurrency: number,
      viewers: number,
    ): PhaseJob => ({
      ...baseJob,
      name,
      mode: 'send',
      tag,
      messages,
      rate,
      concurrency,
      viewers,
      sendBudgetMs: (rate > 0 ? (messages / rate) * 1000 : 0) + SEND_SLACK_S * 1000,
    });
    /**
     * Inject: writes `n` messages as a send would (next channel sequences, texts tagged like sent
     * ones), then, when the phase is armed, publishes their MessagePosted events straight into the
     * gateway's pub/sub, as events of sends handled by other processes arrive: the gateway's
     * fan-out alone, without the send path (HTTP, auth, the send transaction) on its event loop.
     */
    const injectIds = createSnowflake(1021);
    const senderUserId = fx.tokens[ONLINE]?.userId as string;
    const prepareInject = async (n: number, tag: string, paceMs = 0): Promise<() => Promise<void>> => {
      const c = await pool!.connect();
      const ids = Array.from({ length: n }, () => injectIds.next().toString());
      let base = 0n;
      try {
        await c.query('BEGIN');
        const row = await c.query<{ s: string }>('SELECT last_seq::text AS s FROM channels WHERE id = $1 FOR UPDATE', [
          channelId,
        ]);
        base = BigInt(row.rows[0]?.s ?? '0');
        const now = new Date().toISOString();
        await c.query(
          `INSERT INTO messages (id, channel_id, author_id, text, seq, listed, created_at)
           SELECT * FROM unnest($1::text[]::bigint[], $2::text[]::bigint[], $3::text[]::bigint[], $4::text[], $5::text[]::bigint[], $6::boolean[], $7::text[]::timestamptz[])`,
          [
            ids,
            ids.map(() => channelId),
            ids.map(() => senderUserId),
            ids.map((_, i) => `fo${tag}${i}: ${FILLER}`),
            ids.map((_, i) => (base + BigInt(i + 1)).toString()),
            ids.map(() => true),
            ids.map(() => now),
          ],
        );
        await c.query('UPDATE channels SET last_seq = $2, last_message_id = $3 WHERE id = $1', [
          channelId,
          (base + BigInt(n)).toString(),
          ids[n - 1],
        ]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        c.release();
      }
      const events = ids.map((id, i) => ({
        type: 'MessagePosted',
        channelId,
        messageId: id,
        authorId: senderUserId,
        threadRootId: null,
        listed: true,
        seq: (base + BigInt(i + 1)).toString(),
        mentionedUserIds: [],
        mentionsChannel: false,
        mentionsHere: false,
        newFollowerIds: [],
      }));
      return async () => {
        if (paceMs <= 0) {
          await Promise.all(events.map((e) => app_.realtime.broker.publish(topics.channel(channelId), e)));
          return;
        }
        const start = performance.now();
        const published: Promise<void>[] = [];
        for (let i = 0; i < events.length; i++) {
          const wait = start + i * paceMs - performance.now();
          if (wait > 0) await sleep(wait);
          published.push(app_.realtime.broker.publish(topics.channel(channelId), events[i]));
        }
        await Promise.all(published);
      };
    };
    const injectJob = (name: string, tag: string, messages: number, viewers: number, paceMs = 0): PhaseJob => ({
      ...sendJob(name, tag, messages, 0, 1, viewers),
      mode: 'inject',
      paceMs,
      sendBudgetMs: paceMs * messages + SEND_SLACK_S * 1000,
    });
    const PACE_MS = RATE > 0 ? 1000 / RATE : 0;

    if (WARMUP > 0)
      await run('design', 'warm-up', sendJob('warm-up', 'w', WARMUP, RATE, SENDERS, VIEWERS), undefined, false);
    const design = await run(
      'design',
      `${MESSAGES} at ${RATE}/s`,
      sendJob('design', 'p', MESSAGES, RATE, SENDERS, VIEWERS),
    );
    const blast =
      BLAST > 0
        ? await run(
            'design',
            `blast ${BLAST}, ${BLAST_CONCURRENCY} senders`,
            sendJob('blast', 'b', BLAST, 0, BLAST_CONCURRENCY, VIEWERS),
          )
        : null;
    const inject =
      INJECT > 0
        ? await run(
            'design',
            `inject ${INJECT} (no send path)`,
            injectJob('inject', 'i', INJECT, VIEWERS),
            await prepareInject(INJECT, 'i'),
          )
        : null;
    const paced =
      PACED > 0 && PACE_MS > 0
        ? await run(
            'design',
            `inject ${PACED} at ${RATE}/s (no send path)`,
            injectJob('paced', 'q', PACED, VIEWERS, PACE_MS),
            await prepareInject(PACED, 'q', PACE_MS),
          )
        : null;

    // Naive: every online member gets the full message.
    const sw = await client.switchTo({ dropBadges: true, allView: true, channelId });
    log(
      `naive: ${sw.subscribed} more channel subscriptions (${sw.viewing} viewing, ${sw.badges} badge subscriptions left)`,
    );
    await waitReady(
      'naive subscriptions',
      () => app_.realtime.badges.stats().sessions === 0 && app_.realtime.hub.stats().listeners >= ONLINE,
      240_000,
    );
    await sleep(500);
    gc();
    const memNaive = process.memoryUsage();
    if (WARMUP > 0)
      await run(
        'naive',
        'warm-up',
        sendJob('naive warm-up', 'v', Math.min(WARMUP, 10), NAIVE_RATE, SENDERS, ONLINE),
        undefined,
        false,
      );
    const naive =
      NAIVE_MESSAGES > 0
        ? await run(
            'naive',
            `${NAIVE_MESSAGES} at ${NAIVE_RATE}/s`,
            sendJob('naive', 'n', NAIVE_MESSAGES, NAIVE_RATE, SENDERS, ONLINE),
          )
        : null;
    const naiveBlast =
      NAIVE_BLAST > 0
        ? await run(
            'naive',
            `blast ${NAIVE_BLAST}, ${BLAST_CONCURRENCY} senders`,
            sendJob('naive blast', 'x', NAIVE_BLAST, 0, BLAST_CONCURRENCY, ONLINE),
          )
        : null;
    const naiveInject =
      NAIVE_INJECT > 0
        ? await run(
            'naive',
            `inject ${NAIVE_INJECT} (no send path)`,
            injectJob('naive inject', 'j', NAIVE_INJECT, ONLINE),
            await prepareInject(NAIVE_INJECT, 'j'),
          )
        : null;

    // The floor: a bare process holding the same 10,000 sockets through `ws` (its own load
    // generator, the same tokens and viewers) and writing the same pre-encoded frames to the same
    // viewers, with no GraphQL, database or pub/sub. The gateway's sockets stay open and idle.
    let floorPhase: PhaseResult | null = null;
    let floorPaced: PhaseResult | null = null;
    let floorRssPerConn = Number.NaN;
    if (FLOOR && (INJECT > 0 || paced)) {
      const floor = await startFloor();
      const floorClient = await startFanoutClient();
      try {
        const floorIdle = await floor.stats();
        const fc = await floorClient.connect({
          url: floor.url,
          tokens: onlineTokens,
          viewers: VIEWERS,
          channelId,
          batch: CONNECT_BATCH,
          deadlineMs: CONNECT_DEADLINE_S * 1000,
        });
        if (fc.opened !== ONLINE) throw new BenchAbort(`floor: connections failed: ${fc.errorSamples.join(' | ')}`);
        for (let i = 0; i < 600 && (await floor.stats()).viewers < VIEWERS; i++) await sleep(100);
        const floorMem = await floor.stats();
        floorRssPerConn = (floorMem.rssBytes - floorIdle.rssBytes) / fc.opened;
        log(
          `floor: ${fc.opened} sockets, ${floorMem.viewers} viewing, floor process RSS ${mb(floorMem.rssBytes)} ` +
            `(+${mb(floorMem.rssBytes - floorIdle.rssBytes)} for the sockets: ${int(floorRssPerConn)} B per connection)`,
        );
        const floorRun = async (tag: string, n: number, paceMs: number, what: string) => {
          let floorCpuMs = 0;
          const r = await floorClient.phase(
            { ...injectJob(`floor ${what}`, tag, n, VIEWERS, paceMs), url: floor.url },
            async () => {
              floorCpuMs = (
                await floor.inject({ tag, n, filler: FILLER, authorId: senderUserId, authorName: 'Floor', paceMs })
              ).cpuMs;
            },
          );
          failures.add(...phaseFailures(`floor ${what}`, r));
          log(
            `floor ${what}: full ${r.fullPushes}/${r.expectedFullPushes}, window ${fmt(r.windowMs / 1000)} s, ` +
              `${int(perSecond(deliveries(r), r.windowMs))} deliveries/s, p50 ${fmt(r.latency.p50)} p99 ${fmt(r.latency.p99)} ms`,
          );
          rows.push({
            design: 'floor',
            what: `raw ws, ${what}`,
            result: r,
            server: { shared: 0, own: 0, cpuMs: floorCpuMs, loopP99: Number.NaN, loopMax: Number.NaN },
            badges: null,
          });
          return r;
        };
        if (INJECT > 0) floorPhase = await floorRun('f', INJECT, 0, `inject ${INJECT} pre-encoded`);
        if (paced) floorPaced = await floorRun('g', PACED, PACE_MS, `${PACED} pre-encoded at ${RATE}/s`);
      } finally {
        await floorClient.close().catch(() => {});
        floor.close();
      }
    }

    // 5. Report.
    const pgVersion =
      (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
    const cpu = cpus();
    const header = [
      `bench:fanout  ${started.toISOString()}`,
      `node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL ${pgVersion}`,
      `gateway: buildApp in the bench process (NODE_ENV=production, ${app.realtime.broker.kind} pub/sub, database pool ${config.database.kind === 'postgres' ? config.database.poolSize : '-'}, ` +
        `outbox worker ${config.outbox.worker}, BADGE_FLUSH_MS ${flushMs}, SUBSCRIPTION_QUEUE_LIMIT ${config.realtime.subscriptionQueueLimit}); ` +
        `load generator: a forked process, raw graphql-transport-ws clients on ws (no compression) + HTTP sendMessage senders`,
      `fixture: #general with ${int(MEMBERS)} members; ${int(ONLINE)} online (a badges subscription each), ${int(VIEWERS)} of them viewing (a channel subscription each); ` +
        `messages "fo<tag><n>: ${FILLER}" (~${FILLER.length + 8} chars)`,
      `connect: ${int(conn.opened)} sockets in ${fmt(conn.durationMs / 1000, 1)} s (batches of ${CONNECT_BATCH}); gateway heap +${mb(memAfter.heapUsed - memBefore.heapUsed)}, RSS +${mb(memAfter.rss - memBefore.rss)} ` +
        `(${int((memAfter.rss - memBefore.rss) / ONLINE)} B RSS per connection with badges${VIEWERS ? ' / channel' : ''}); naive subscriptions: RSS ${mb(memNaive.rss)}`,
      `latency = HTTP send start (inject rows: start of the burst) -> frame received at the viewer, one clock (the load generator's); ` +
        `bytes = WebSocket frames received (payload + frame header); deliveries/s = (full pushes + badge frames) / window (first send -> last frame)`,
    ].join('\n');

    const lines: string[] = [table(rows), ''];
    lines.push(...detailLines(rows), '');

    // Goals.
    const goals: string[] = [];
    const exactForSent =
      design.fullPushes === VIEWERS * design.sent &&
      design.duplicates === 0 &&
      design.missing === 0 &&
      design.strays === 0;
    const exact = exactForSent && design.sent === MESSAGES;
    goals.push(
      `full pushes = viewers x messages: ${int(design.fullPushes)} for ${int(design.sent)} messages sent = ${int(VIEWERS)} x ${int(design.sent)}: ` +
        `${exactForSent ? 'exact' : 'NOT exact'} (duplicates ${design.duplicates}, missing ${design.missing}, strays ${design.strays}); ` +
        `${int(design.sent)} of ${int(MESSAGES)} messages sent${design.sendTruncated ? ` (the ${SEND_SLACK_S + MESSAGES / RATE} s send budget ran out)` : ''}: ${pass(exact)}`,
    );
    const refreshMs = config.realtime.badgeRefreshMs;
    const bound = badgeBound(design.windowMs, refreshMs);
    const designBadges = rows.find((r) => r.result === design)?.badges ?? null;
    const onlineNotViewing = ONLINE - VIEWERS;
    const badgeOk =
      design.maxBadgeFramesPerConnection <= bound &&
      design.badgeFramesOnViewers === 0 &&
      design.badgeFrames <= onlineNotViewing * bound;
    goals.push(
      `badge frames per member not viewing: turned unread + one refresh per ${refreshMs / 1000} s + one trailing: ${int(design.badgeFrames)} frames to ${int(design.badgeConnections)} members, ` +
        `max ${design.maxBadgeFramesPerConnection} per member, bound ${bound} (1 + ${fmt(design.windowMs / 1000)} s / ${refreshMs / 1000} s + 1) ` +
        `(mean ${fmt(design.badgeFrames / Math.max(1, design.badgeConnections), 1)}), ${design.badgeFramesOnViewers} to viewers; ` +
        `last unread count = database on ${int(designBadges ? designBadges.checked - designBadges.mismatches : 0)}/${int(onlineNotViewing)}: ${pass(badgeOk && designBadges?.checked === onlineNotViewing && designBadges.mismatches === 0)}`,
    );
    let bytesRatio = Number.NaN;
    if (naive) {
      bytesRatio = ratio(bytesPerMessage(naive), bytesPerMessage(design));
      goals.push(
        `bytes: design ${int(bytesPerMessage(design))} B/message (full ${int(design.fullBytes / design.sent)} + badges ${int(design.badgeBytes / design.sent)}), ` +
          `naive ${int(bytesPerMessage(naive))} B/message: ${fmtRatio(bytesRatio, 1)} fewer (goal >= ${GOAL_BYTES_RATIO}x: ${pass(bytesRatio >= GOAL_BYTES_RATIO)}; ` +
          `ceiling online/viewers = ${fmtRatio(ONLINE / VIEWERS, 1)} even with free badges)`,
      );
    }
    goals.push(
      `send-to-viewer latency p99 ${fmt(design.latency.p99)} ms (p50 ${fmt(design.latency.p50)}) at ${RATE}/s offered, ${fmt(perSecond(design.sent, design.sendSpanMs), 1)}/s achieved ` +
        `(goal < ${GOAL_P99_MS} ms: ${pass(design.latency.p99 < GOAL_P99_MS && !design.sendTruncated)})`,
    );
    const cap = (r: PhaseResult | null) => (r ? perSecond(deliveries(r), r.windowMs) : Number.NaN);
    const split = (r: PhaseResult | null) =>
      r
        ? ` (${int(perSecond(r.fullPushes, r.windowMs))} full pushes/s + ${int(perSecond(r.badgeFrames, r.windowMs))} badge frames/s)`
        : '';
    const capBlast = cap(blast);
    const capInject = cap(inject);
    // The baseline is the naive design's blast, measured in this run on the same gateway and
    // sockets (not a figure from the design notes).
    const capNaiveBlast = cap(naiveBlast);
    goals.push(
      `fan-out capacity per gateway process: blast ${int(capBlast)} deliveries/s${split(blast)} ` +
        `(${naiveBlast ? `${fmtRatio(ratio(capBlast, capNaiveBlast), 1)} the naive design's ${int(capNaiveBlast)}/s in this run` : 'no naive blast in this run to compare with'}; ` +
        `goal >= ${int(GOAL_RATE)}: ${pass(capBlast >= GOAL_RATE)})` +
        (inject
          ? `; injected, no send path: ${int(capInject)} deliveries/s${split(inject)} (${pass(capInject >= GOAL_RATE)})`
          : ''),
    );
    goals.push(
      `sendMessage round trip p99 ${fmt(design.ack.p99)} ms (p50 ${fmt(design.ack.p50)}) while the fan-out runs at ${RATE}/s ` +
        `(goal <= ${GOAL_ACK_P99_MS} ms: ${pass(design.ack.p99 <= GOAL_ACK_P99_MS && !design.sendTruncated)})`,
    );
    // Per minute of continuous traffic the rule allows 1 (turned unread) + 60 s / BADGE_REFRESH_MS
    // refreshes, then one trailing frame once quiet; a phase of a few seconds cannot show a rate per
    // minute, so the measured figure is the frames per member in the phase against that bound.
    const perMinuteByRule = 1 + 60_000 / config.realtime.badgeRefreshMs;
    goals.push(
      `badge frames per member not viewing at ${RATE}/s: mean ${fmt(design.badgeFrames / Math.max(1, ONLINE - VIEWERS), 2)}, max ${design.maxBadgeFramesPerConnection} ` +
        `in a ${fmt(design.windowMs / 1000)} s phase (bound ${bound}); continuous traffic: at most ${fmt(perMinuteByRule, 1)} per minute by the rule + 1 when quiet ` +
        `(goal <= ${GOAL_BADGES_PER_MEMBER_MINUTE}/min: ${pass(perMinuteByRule <= GOAL_BADGES_PER_MEMBER_MINUTE && design.maxBadgeFramesPerConnection <= bound)})`,
    );
    const rssPerConn = (memAfter.rss - memBefore.rss) / ONLINE;
    goals.push(
      `RSS per connection with badges${VIEWERS ? ' (and a channel subscription on viewers)' : ''}: ${int(rssPerConn)} B ` +
        `(goal <= ${int(GOAL_RSS_PER_CONN)}: ${pass(rssPerConn <= GOAL_RSS_PER_CONN)})` +
        (Number.isFinite(floorRssPerConn)
          ? `; the raw ws floor holding the same sockets: ${int(floorRssPerConn)} B per connection (${fmtRatio(ratio(rssPerConn, floorRssPerConn), 2)})`
          : ''),
    );
    if (floorPhase && inject) {
      const capFloor = cap(floorPhase);
      const r = ratio(capInject, capFloor);
      goals.push(
        `inject deliveries/s as a share of the raw ws floor (same sockets, same pre-encoded frames, same run): ` +
          `${int(capInject)} / ${int(capFloor)} = ${fmt(r, 2)}x ` +
          `(viewer p99 ${fmt(inject.latency.p99)} vs ${fmt(floorPhase.latency.p99)} ms) (goal >= ${GOAL_FLOOR_RATIO}x: ${pass(r >= GOAL_FLOOR_RATIO)})`,
      );
    }
    if (paced) {
      const parts = [
        `at ${RATE}/s offered, viewer latency p50 / p99: the design's send phase ${fmt(design.latency.p50)} / ${fmt(design.latency.p99)} ms, ` +
          `the design's fan-out alone (paced inject) ${fmt(paced.latency.p50)} / ${fmt(paced.latency.p99)} ms`,
      ];
      if (floorPaced)
        parts.push(
          `the raw ws floor paced the same ${fmt(floorPaced.latency.p50)} / ${fmt(floorPaced.latency.p99)} ms ` +
            `(fan-out p99 ${fmtRatio(ratio(paced.latency.p99, floorPaced.latency.p99), 2)} the floor's; send phase p99 ` +
            `${fmtRatio(ratio(design.latency.p99, floorPaced.latency.p99), 2)} the floor's)`,
        );
      goals.push(parts.join('; '));
    }
    if (naiveBlast || naiveInject) {
      goals.push(
        `naive fan-out capacity: blast ${int(cap(naiveBlast))} deliveries/s; injected ${int(cap(naiveInject))} deliveries/s (shared rendering applies to both designs)`,
      );
    }
    lines.push(...goals, '');

    // Totals per 1,000 messages.
    if (naive) {
      const perK = (r: PhaseResult) => 1000 / r.sent;
      lines.push(
        `per 1,000 messages: design (${design.sent === 1000 ? 'measured' : `SCALED from ${design.sent} messages`}) ${int(design.fullPushes * perK(design))} full pushes + ${int(design.badgeFrames * perK(design))} badge frames = ${mb(wsBytes(design) * perK(design))}; ` +
          `naive (${naive.sent === 1000 ? 'measured' : `EXTRAPOLATED from ${naive.sent} messages`}) ${int(naive.fullPushes * perK(naive))} full pushes = ${mb(wsBytes(naive) * perK(naive))}; ` +
          `deliveries ${fmtRatio(ratio(deliveries(naive) * perK(naive), deliveries(design) * perK(design)), 1)} fewer in the design`,
      );
      lines.push(
        `naive at ${NAIVE_RATE}/s: latency p50 ${fmt(naive.latency.p50)} / p99 ${fmt(naive.latency.p99)} ms, ${int(perSecond(deliveries(naive), naive.windowMs))} deliveries/s ` +
          `(the design at ${RATE}/s: p99 ${fmt(design.latency.p99)} ms, ${int(perSecond(deliveries(design), design.windowMs))} deliveries/s)`,
      );
    }
    const text = `${header}\n\n${lines.join('\n')}\n`;
    process.stdout.write(`\n${text}`);
    try {
      mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
      const file = new URL(`./results/fanout-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
      // Without the per-connection badge counts (checked above; 10,000 numbers per phase).
      const jsonRows = rows.map((r) => ({ ...r, result: { ...r.result, badgeUnread: undefined } }));
      writeFileSync(
        file,
        JSON.stringify(
          { started: started.toISOString(), header, connect: conn, rows: jsonRows, failures: failures.list },
          null,
          2,
        ),
      );
      log(`results written to ${file.pathname}`);
    } catch (err) {
      log(`could not write results JSON: ${(err as Error).message}`);
    }
  } catch (err) {
    failed = true;
    if (rows.length > 0) process.stdout.write(`\n(results so far)\n${table(rows)}\n${detailLines(rows).join('\n')}\n`);
    if (err instanceof BenchAbort) log(`ABORT: ${err.message}`);
    else log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    // The gateway closes the sockets first (so the TIME_WAIT ports are the server's), then the
    // load generator exits.
    await app?.stop().catch((e: unknown) => log(`app.stop failed: ${(e as Error).message}`));
    await client?.close().catch(() => {});
    await pool?.end().catch(() => {});
    if (scratch && !process.env.BENCH_KEEP_DB) {
      await dropScratch(SCRATCH_DB).catch((e: unknown) => log(`could not drop ${SCRATCH_DB}: ${(e as Error).message}`));
    }
    clearTimeout(watchdog);
  }
  failures.report();
  if (failed) process.exitCode = 1;
}

await main();
