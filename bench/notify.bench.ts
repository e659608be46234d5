/**
 * bench:notify — an `@channel` in a 50,000-member channel whose 40,000 offline members each have a
 * Web Push device, pushed through a loopback push service (bench/lib/push-sink.ts, its own
 * process, HTTPS). Measures the time from the send to the last push accepted, pushes/s, and
 * whether the real-time path notices: sendMessage latency (HTTP, a small channel, open loop at
 * BENCH_SEND_RATE/s) first with the outbox worker stopped (no notification consumer running),
 * then while the notification consumer is pushing the 40,000, in the same run and process (the
 * worker runs inline, as with OUTBOX_WORKER=inline), with the ratios.
 *
 *   npm run bench:notify                                   # 50,000 members, 40,000 offline with devices
 *   BENCH_MEMBERS=5000 BENCH_OFFLINE=4000 npm run bench:notify
 *
 * Fixture by bulk SQL (bench/seed.ts; push_devices by one INSERT ... SELECT), on a scratch
 * PostgreSQL database (or DATABASE_URL). The other BENCH_MEMBERS - BENCH_OFFLINE - 1 members have
 * no device: the notifier never considers them (online members get badges, not pushes).
 * Knobs: BENCH_SEND_RATE (20), BENCH_BASELINE_SENDS (200), BENCH_TIMEOUT_S (900), BENCH_WORKER
 * (`inline`: the worker runs in the server process, as OUTBOX_WORKER=inline; `process`: in a
 * separate `npm run worker` process, as in docker-compose.yml).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import webpush from 'web-push';
import { createECDH, randomBytes } from 'node:crypto';
import { buildApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { seed } from './seed.js';
import { envInt, gatewayEnv } from './lib/env.js';
import { Failures } from './lib/failures.js';
import { dropScratch, prepareDatabase, withMigratedDatabase } from './lib/scratch-db.js';
import { fmt, fmtRatio, formatTable, ratio, summarize, type Summary } from './lib/stats.js';
import { selfSignedCert } from '../tests/helpers/tls.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const MEMBERS = envInt('BENCH_MEMBERS', 50_000, 2);
const OFFLINE = envInt('BENCH_OFFLINE', 40_000, 1);
const SEND_RATE = envInt('BENCH_SEND_RATE', 20);
const BASELINE_SENDS = envInt('BENCH_BASELINE_SENDS', 200);
const TIMEOUT_S = envInt('BENCH_TIMEOUT_S', 900);
/** Where the outbox worker runs in phase 2: `inline` (in the server process) or `process` (`npm run worker`). */
const WORKER = (process.env.BENCH_WORKER ?? 'inline') as 'inline' | 'process';
const SCRATCH_DB = 'bench_notify';

const log = (m: string) => process.stderr.write(`[bench:notify ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

interface SinkStats {
  accepted: number;
  refused: number;
  duplicates: number;
  firstAt: number;
  lastAt: number;
}

function startSink(keyFile: string, certFile: string) {
  const child = fork(new URL('./lib/push-sink.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SINK_KEY_FILE: keyFile, SINK_CERT_FILE: certFile },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let waiter: ((s: SinkStats) => void) | null = null;
  const ready = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m: { type: string; port?: number } & SinkStats) => {
      if (m.type === 'ready') resolve(m.port!);
      if (m.type === 'stats' && waiter) {
        const w = waiter;
        waiter = null;
        w(m);
      }
    });
  });
  return {
    pid: child.pid,
    ready,
    stats: () =>
      new Promise<SinkStats>((resolve) => {
        waiter = resolve;
        child.send({ type: 'stats' });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.send({ type: 'exit' });
        setTimeout(() => child.kill(), 5_000).unref();
      }),
  };
}

const SEND = `mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { id } }`;

async function sendMessage(url: string, token: string, channelId: string, text: string): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: SEND, variables: { input: { channelId, text } } }),
  });
  const body = (await res.json()) as { data?: { sendMessage: { id: string } }; errors?: unknown[] };
  if (!body.data?.sendMessage) throw new Error(`sendMessage failed: ${JSON.stringify(body.errors)}`);
  return body.data.sendMessage.id;
}

/**
 * Sends at `rate`/s (open loop: each send starts on schedule whether or not the previous one
 * returned) until `count` sends or `until()` holds; resolves with each send's latency in ms.
 */
async function paced(
  send: (i: number) => Promise<unknown>,
  rate: number,
  opts: { count?: number; until?: () => boolean },
  failures: Failures,
): Promise<number[]> {
  const latencies: number[] = [];
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; ; i++) {
    if (opts.count !== undefined && i >= opts.count) break;
    if (opts.until?.()) break;
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    inflight.push(
      send(i).then(
        () => void latencies.push(performance.now() - t0),
        (err: unknown) => void failures.add(`send ${i}: ${(err as Error).message}`),
      ),
    );
  }
  await Promise.all(inflight);
  return latencies;
}

async function main() {
  if (OFFLINE > MEMBERS - 1) throw new RangeError('BENCH_OFFLINE must be below BENCH_MEMBERS (the sender is a member)');
  const failures = new Failures('bench:notify');
  const { url: dbUrl, scratch } = await prepareDatabase(SCRATCH_DB);
  log(`database: ${scratch ? `${SCRATCH_DB} (scratch, recreated)` : 'DATABASE_URL'}; ${cpus().length} cores`);
  const tls = selfSignedCert();
  const dir = mkdtempSync(join(tmpdir(), 'bench-notify-'));
  const keyFile = join(dir, 'key.pem');
  writeFileSync(keyFile, tls.key);
  const sink = startSink(keyFile, tls.certFile);
  let app: App | null = null;
  let worker: ChildProcess | null = null;
  try {
    const sinkPort = await sink.ready;
    const sinkOrigin = `https://127.0.0.1:${sinkPort}`;
    log(`push service: ${sinkOrigin} (pid ${sink.pid})`);

    // 1. Fixture: MEMBERS users in #general (bulk SQL), devices for OFFLINE of them.
    const t0 = performance.now();
    const fx = await withMigratedDatabase(dbUrl, async (db) => {
      const seeded = await seed(db, {
        users: MEMBERS,
        channels: 1,
        messages: 0,
        tokenUsers: 1,
        onProgress: (m) => log(`seed: ${m}`),
      });
      // One valid subscription key pair for every device (the sink does not decrypt; web-push
      // still encrypts each push for it).
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const p256dh = ecdh.getPublicKey().toString('base64url');
      const auth = randomBytes(16).toString('base64url');
      const offlineIds = seeded.userIds.slice(1, 1 + OFFLINE);
      await db.withSession(async (s) => {
        await s.query(
          `INSERT INTO push_devices (id, user_id, platform, token, p256dh, auth)
           SELECT u, u, 'WEB_PUSH', $2 || '/push/' || u::text, $3, $4 FROM unnest($1::text[]::bigint[]) AS u`,
          [offlineIds, sinkOrigin, p256dh, auth],
        );
        await s.exec('VACUUM ANALYZE');
      });
      return seeded;
    });
    const general = fx.channelIds[0]!;
    const sender = fx.tokens[0]!;
    log(
      `fixture ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${MEMBERS} members of #general, ${OFFLINE} with a Web Push device`,
    );

    // 2. The server, production settings, outbox worker NOT started yet.
    const vapid = webpush.generateVAPIDKeys();
    const env = gatewayEnv(dbUrl, {
      OUTBOX_WORKER: 'off', // started by hand below: "without" first, then "with"
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:bench@localhost',
      PUSH_CA_FILE: tls.certFile,
      UNFURLS: 'false',
    });
    const config = loadConfig(env);
    app = await buildApp(config);
    const { url } = await app.start();
    log(`server at ${url}`);
    // The small channel the latency probe sends to (the sender alone: no one to notify there).
    const chatter = await (async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${sender.token}` },
        body: JSON.stringify({
          query: `mutation($w: ID!) { createChannel(workspaceId: $w, name: "chatter") { id } }`,
          variables: { w: fx.workspaceId },
        }),
      });
      return ((await res.json()) as { data: { createChannel: { id: string } } }).data.createChannel.id;
    })();
    const probe = (i: number) => sendMessage(url, sender.token, chatter, `probe ${i}`);
    await paced(probe, SEND_RATE, { count: 20 }, failures); // warm-up

    // 3. Without the notification consumer: the outbox worker is not running.
    log(`phase 1: ${BASELINE_SENDS} sends at ${SEND_RATE}/s, outbox worker stopped`);
    const without = await paced(probe, SEND_RATE, { count: BASELINE_SENDS }, failures);
    // Let the worker catch up on the probes' rows before the measured phase.
    if (WORKER === 'inline') app.outbox.start();
    else {
      worker = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      log(`outbox worker process: pid ${worker.pid}`);
    }
    for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
      if ((await app.outbox.lag()).pending === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    // 4. With it: the @channel, then the probe until the last push is accepted.
    log(`phase 2: @channel in #general, probe at ${SEND_RATE}/s until ${OFFLINE} pushes are accepted`);
    let done = false;
    let last: SinkStats = await sink.stats();
    const sentAt = Date.now();
    const tSend = performance.now();
    const channelSend = sendMessage(url, sender.token, general, '<!channel> release at 5, please read the notes').then(
      (id) => ({ id, ms: performance.now() - tSend }),
    );
    const watcher = (async () => {
      const deadline = Date.now() + TIMEOUT_S * 1000;
      let shown = 0;
      while (Date.now() < deadline) {
        last = await sink.stats();
        if (last.accepted >= OFFLINE) break;
        if (Date.now() - shown > 5_000) {
          shown = Date.now();
          log(`  ${last.accepted}/${OFFLINE} pushes accepted`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      done = true;
    })();
    const withConsumer = await paced(probe, SEND_RATE, { until: () => done }, failures);
    await watcher;
    const posted = await channelSend;
    // Settle: anything still in flight (a duplicate would show here).
    await new Promise((r) => setTimeout(r, 1_000));
    last = await sink.stats();
    const delivered = await app.db.prisma.pushDelivery.count({ where: { messageId: BigInt(posted.id) } });

    failures.check(last.accepted === OFFLINE, `pushes accepted: ${last.accepted}, expected ${OFFLINE}`);
    failures.check(last.duplicates === 0, `${last.duplicates} devices got the push twice`);
    failures.check(last.refused === 0, `${last.refused} pushes refused by the push service`);
    failures.check(delivered === OFFLINE, `push_deliveries for the message: ${delivered}, expected ${OFFLINE}`);

    const toLast = last.lastAt - sentAt;
    const toFirst = last.firstAt - sentAt;
    const pushing = last.lastAt - last.firstAt;
    const a: Summary = summarize(without);
    const b: Summary = summarize(withConsumer);
    process.stdout.write(
      `\nbench:notify: ${MEMBERS} members, @channel, ${OFFLINE} offline members with Web Push devices (loopback push service, its own process); outbox worker ${WORKER === 'inline' ? 'inline (in the server process)' : 'in its own process'}\n\n`,
    );
    process.stdout.write(
      formatTable(
        [{ title: 'what' }, { title: 'value', align: 'right' }],
        [
          ['the @channel sendMessage itself (ms)', fmt(posted.ms, 0)],
          ['send → first push accepted (s)', fmt(toFirst / 1000, 2)],
          ['send → last push accepted (s)', fmt(toLast / 1000, 2)],
          ['pushes accepted', String(last.accepted)],
          ['pushes/s (send → last)', fmt(ratio(last.accepted, toLast / 1000), 0)],
          ['pushes/s (first → last)', fmt(ratio(last.accepted, pushing / 1000), 0)],
        ],
      ) + '\n\n',
    );
    process.stdout.write(
      formatTable(
        [
          { title: `sendMessage, small channel, ${SEND_RATE}/s` },
          { title: 'sends', align: 'right' },
          { title: 'p50 ms', align: 'right' },
          { title: 'p99 ms', align: 'right' },
          { title: 'max ms', align: 'right' },
        ],
        [
          [
            'without the notification consumer (worker stopped)',
            String(a.count),
            fmt(a.p50, 1),
            fmt(a.p99, 1),
            fmt(a.max, 1),
          ],
          [
            `while it pushes the @channel (worker ${WORKER})`,
            String(b.count),
            fmt(b.p50, 1),
            fmt(b.p99, 1),
            fmt(b.max, 1),
          ],
          [
            'ratio with / without',
            '',
            fmtRatio(ratio(b.p50, a.p50)),
            fmtRatio(ratio(b.p99, a.p99)),
            fmtRatio(ratio(b.max, a.max)),
          ],
        ],
      ) + '\n',
    );
  } finally {
    if (worker && worker.exitCode === null) {
      const w = worker;
      await new Promise<void>((r) => {
        w.once('exit', () => r());
        w.kill('SIGTERM');
      });
    }
    await app?.stop();
    await sink.stop();
    if (scratch) await dropScratch(SCRATCH_DB).catch((err: unknown) => log(`drop: ${(err as Error).message}`));
  }
  failures.report();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:notify failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
