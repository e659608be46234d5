/**
 * Soak benchmark (`npm run bench:soak`, not in CI): one gateway under steady mixed load for a long
 * time, looking for leaks. SOAK_SOCKETS (5,000) raw graphql-transport-ws clients each hold a
 * `badges` subscription; SOAK_VIEWERS_SHARE (0.1) of them also view #general with `channel`; every
 * second SOAK_SENDS (5) messages are sent over sockets, SOAK_TYPING (20) typing and SOAK_PRESENCE
 * (10) presence changes are made, and SOAK_RECONNECTS (5) sockets drop without a close handshake
 * and reconnect (resuming with `after`). The gateway is built in this process (its heap is the
 * one sampled; run with --expose-gc, as the npm script does, so each sample follows a full GC);
 * the clients run in a forked child.
 *
 * Every SOAK_SAMPLE_S (10) seconds: heap used, RSS, and the sizes of the hub's maps (topics,
 * listeners, broker topics) and the open connection count. After SOAK_WARMUP_MIN (1) minute the
 * heap and RSS slopes are fitted (least squares, MB/min). Goals: heap slope under 1 MB/min, and
 * the hub/broker maps no larger at the end than after warm-up (beyond the connection churn at the
 * moment of sampling: 5% plus 20). Missed goals are reported as MISS; wrong results (send errors)
 * fail the run.
 *
 * SOAK_MINUTES (10). `--short` (or SOAK_SHORT=1): 500 sockets for 3 minutes, 1 minute warm-up.
 * PostgreSQL only: the scratch database `chat_bench_soak` is recreated and dropped at the end.
 */
import { fork } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { seed } from './seed.js';
import { envInt, gatewayEnv } from './lib/env.js';
import { Failures } from './lib/failures.js';
import { dropScratch, prepareDatabase, withMigratedDatabase } from './lib/scratch-db.js';
import { fmt, formatTable } from './lib/stats.js';
import type { SoakCounts, SoakLoadConfig } from './lib/soak-load.js';

const SHORT = process.argv.includes('--short') || process.env.SOAK_SHORT === '1';
const SOCKETS = envInt('SOAK_SOCKETS', SHORT ? 500 : 5_000);
const MINUTES = Number(process.env.SOAK_MINUTES ?? (SHORT ? 3 : 10));
const WARMUP_MIN = Number(process.env.SOAK_WARMUP_MIN ?? 1);
const SAMPLE_S = envInt('SOAK_SAMPLE_S', 10);
const DB_NAME = 'chat_bench_soak';

const log = (m: string) => process.stdout.write(`[soak] ${m}\n`);
const MB = 1024 * 1024;

interface Sample {
  minute: number;
  heapMB: number;
  rssMB: number;
  topics: number;
  listeners: number;
  brokerTopics: number;
  connections: number;
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

async function main() {
  const failures = new Failures('bench:soak');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) log('warning: run with --expose-gc (npm run bench:soak does) for samples after a full GC');
  const { url: dbUrl, scratch } = await prepareDatabase(DB_NAME);
  let app: App | null = null;
  const child = fork(fileURLToPath(new URL('./lib/soak-load.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const fx = await withMigratedDatabase(dbUrl, (db) =>
      seed(db, { users: SOCKETS, channels: 5, messages: 0, tokenUsers: SOCKETS }),
    );
    app = await buildApp(loadConfig(gatewayEnv(dbUrl, { OUTBOX_WORKER: process.env.OUTBOX_WORKER ?? 'inline' })));
    const { url } = await app.start();
    log(
      `gateway at ${url}; ${SOCKETS} sockets, ${MINUTES} min (${WARMUP_MIN} min warm-up), a sample every ${SAMPLE_S} s`,
    );

    const config: SoakLoadConfig = {
      url,
      tokens: fx.tokens.map((t) => t.token),
      channelIds: fx.channelIds,
      sendsPerS: envInt('SOAK_SENDS', 5, 0),
      typingPerS: envInt('SOAK_TYPING', 20, 0),
      presencePerS: envInt('SOAK_PRESENCE', 10, 0),
      reconnectsPerS: envInt('SOAK_RECONNECTS', 5, 0),
      viewersShare: Number(process.env.SOAK_VIEWERS_SHARE ?? 0.1),
      connectBatch: envInt('SOAK_CONNECT_BATCH', 200),
    };
    let counts: SoakCounts | null = null;
    const ready = new Promise<void>((resolve) =>
      child.on('message', (m: { type: string; counts: SoakCounts }) => {
        counts = m.counts;
        if (m.type === 'ready') resolve();
      }),
    );
    child.send({ type: 'start', config });
    await ready;
    log(`${counts!.open} sockets connected; load running`);

    const samples: Sample[] = [];
    const started = Date.now();
    const a = app;
    const take = () => {
      gc?.();
      const mem = process.memoryUsage();
      const hub = a.realtime.hub.stats();
      const s: Sample = {
        minute: (Date.now() - started) / 60_000,
        heapMB: mem.heapUsed / MB,
        rssMB: mem.rss / MB,
        topics: hub.topics,
        listeners: hub.listeners,
        brokerTopics: hub.brokerTopics,
        connections: a.websocket.stats().connections,
      };
      samples.push(s);
      const c = counts!;
      log(
        `${fmt(s.minute, 1)} min: heap ${fmt(s.heapMB, 1)} MB, rss ${fmt(s.rssMB, 1)} MB, topics ${s.topics}, listeners ${s.listeners}, broker topics ${s.brokerTopics}, connections ${s.connections}; sends acked ${c.sendsAcked}, op errors ${c.opErrors}, reconnects ${c.reconnects}, frames ${c.frames}`,
      );
    };
    take();
    while (Date.now() - started < MINUTES * 60_000) {
      await new Promise((r) => setTimeout(r, SAMPLE_S * 1_000));
      take();
    }
    child.send({ type: 'stop' });
    await new Promise((r) => child.once('exit', r));

    const after = samples.filter((s) => s.minute >= WARMUP_MIN);
    const heapSlope = slope(
      after.map((s) => s.minute),
      after.map((s) => s.heapMB),
    );
    const rssSlope = slope(
      after.map((s) => s.minute),
      after.map((s) => s.rssMB),
    );
    const first = after[0] ?? samples[0]!;
    const last = samples.at(-1)!;
    const grew = (k: 'topics' | 'listeners' | 'brokerTopics') => last[k] > first[k] * 1.05 + 20;
    const c = counts!;
    process.stdout.write(
      `\n## bench:soak\n\n${SOCKETS} sockets, ${MINUTES} min (warm-up ${WARMUP_MIN} min), ${cpus().length} cores, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}\n\n` +
        formatTable(
          [
            { title: 'measure' },
            { title: 'after warm-up', align: 'right' },
            { title: 'end', align: 'right' },
            { title: 'goal' },
          ],
          [
            ['heap used (MB)', fmt(first.heapMB, 1), fmt(last.heapMB, 1), ''],
            ['heap slope (MB/min)', fmt(heapSlope, 3), '', heapSlope < 1 ? '< 1: ok' : '< 1: MISS'],
            ['RSS (MB)', fmt(first.rssMB, 1), fmt(last.rssMB, 1), ''],
            ['RSS slope (MB/min)', fmt(rssSlope, 3), '', ''],
            ['hub topics', String(first.topics), String(last.topics), grew('topics') ? 'MISS (grew)' : 'ok'],
            [
              'hub listeners',
              String(first.listeners),
              String(last.listeners),
              grew('listeners') ? 'MISS (grew)' : 'ok',
            ],
            [
              'broker topics',
              String(first.brokerTopics),
              String(last.brokerTopics),
              grew('brokerTopics') ? 'MISS (grew)' : 'ok',
            ],
            ['connections', String(first.connections), String(last.connections), ''],
          ],
        ) +
        `\n\nload: ${c.sendsAcked} sends acknowledged, ${c.reconnects} forced reconnects, ${c.connects} connects, ${c.frames} frames received, ${c.opErrors} operation errors, closes ${JSON.stringify(c.closes)}\n`,
    );
    failures.check(c.opErrors === 0, () => `${c.opErrors} operations answered an error`);
    failures.check(c.sendsAcked > 0, 'no send was acknowledged');
  } catch (err) {
    failures.add(`run failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    if (child.exitCode === null) child.kill();
    await app?.stop();
    if (scratch && !process.env.BENCH_KEEP_DB) await dropScratch(DB_NAME);
  }
  failures.report();
}

await main();
