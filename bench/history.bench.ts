/**
 * History benchmark (`npm run bench:history`): latency of the `messages` history query over HTTP,
 * including the tombstone case (1 live message behind 100K deleted ones).
 *
 * PostgreSQL only. With DATABASE_URL set, that (empty) database is used; otherwise the scratch
 * database `chat_bench_history` on postgresql://postgres@127.0.0.1:5432 is dropped, recreated,
 * and dropped again at the end (BENCH_KEEP_DB=1 keeps it).
 *
 * Processes: the app (buildApp, the real HTTP server) runs in this process; the HTTP load
 * generator runs in a forked child (bench/lib/http-load.ts), so client and server do not share
 * an event loop. The direct-SQL baselines run here through their own pg pool while the server
 * is idle.
 *
 * Scenarios (each: warm-up, then a fixed number of requests from `concurrency` closed-loop
 * clients, each client a different seeded user with its own bearer token):
 *   baseline   `{ __typename }` over the same HTTP path (HTTP + auth + GraphQL overhead)
 *   latest     newest 50 of a channel with 100K messages
 *   deep       a page of 50 from deep history (before = the ~10,000th-oldest message)
 *   tombstone  newest 50 of a channel with 100K deleted messages then 1 live one (returns 1)
 *   sql:partial   the app's history SQL for the tombstone channel, straight to PostgreSQL
 *   sql:naive     the naive design: `deleted_at IS NULL` (no `listed`) over an ordinary, non-partial
 *                 `(channel_id, id)` index the bench creates for it (over all rows, deleted ones
 *                 too); so the comparison is "partial index over live rows" vs "ordinary index over
 *                 all rows", not vs no index at all. EXPLAIN must show each statement on its own
 *                 index, or the run fails.
 *
 * The HTTP scenarios run twice: with BENCH_CONCURRENCY clients (32, saturating: latency is mostly
 * queueing), then with BENCH_LOW_CONCURRENCY (1: the service time of one request).
 *
 * Knobs (env): BENCH_REQUESTS (5000), BENCH_WARMUP (500), BENCH_CONCURRENCY (32),
 * BENCH_LOW_CONCURRENCY (1), BENCH_LOW_REQUESTS (1000), BENCH_NAIVE_REQUESTS (1000),
 * BENCH_KEEP_DB, BENCH_TIMEOUT_S (900, then the run aborts);
 * BENCH_ONLY (comma-separated scenarios to run, of baseline, latest, deep, tombstone, herd, sql;
 * default all: `BENCH_ONLY=baseline` measures the floor alone); BENCH_CPU_PROFILE (a directory:
 * each HTTP scenario at BENCH_CONCURRENCY clients is CPU-profiled in this process, the server's,
 * into <dir>/history-<scenario>-<clients>.cpuprofile, and its time by bucket printed; see
 * bench/lib/cpu-profile.ts). Every HTTP row reports the server's CPU time per request (this
 * process, warm-up included), which moves less with other load on the machine than req/s does.
 *
 * Wrong results fail the run (exit code 1, listed after the report): a sanity check that does not
 * hold, any request error or wrong page size, a plan not on the index it is meant to measure.
 */
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Database } from '../src/infra/db/database.js';
import { createSnowflake, decodeSnowflake } from '../src/infra/ids/snowflake.js';
import { runBounded, startLoadWorker, type LoadJob, type LoadResult, type LoadWorker } from './lib/http-load.js';
import { fmt, fmtRatio, formatTable, ratio, summarize, type Summary } from './lib/stats.js';
import { insertRows, seed } from './seed.js';
import { dropScratch, prepareDatabase, withMigratedDatabase } from './lib/scratch-db.js';
import { envInt, gatewayEnv } from './lib/env.js';
import { Failures } from './lib/failures.js';
import { bucketize, formatBuckets, profileCpu } from './lib/cpu-profile.js';

const SCRATCH_DB = 'chat_bench_history';
const MAIN_MESSAGES = 100_000;
const TOMBSTONES = 100_000;
const PAGE = 50;
const DEEP_RANK = 10_000; // "before" = the id of about the 10,000th-oldest message
const GOAL_LATEST_P99_MS = 15;
const GOAL_TOMBSTONE_RATIO = 2;

const REQUESTS = envInt('BENCH_REQUESTS', 5_000);
const WARMUP = envInt('BENCH_WARMUP', 500);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 32);
const NAIVE_REQUESTS = envInt('BENCH_NAIVE_REQUESTS', 1_000);
// A second, unsaturated pass: 32 closed-loop clients keep 2 cores busy, so their latency is mostly
// queueing (Little's law: latency ~ clients / throughput). One client shows the service time.
const LOW_CONCURRENCY = envInt('BENCH_LOW_CONCURRENCY', 1);
const LOW_REQUESTS = envInt('BENCH_LOW_REQUESTS', 1_000);
const TIMEOUT_S = envInt('BENCH_TIMEOUT_S', 900);
const SCENARIOS = ['baseline', 'latest', 'deep', 'tombstone', 'herd', 'sql'] as const;
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? SCENARIOS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
for (const s of ONLY)
  if (!(SCENARIOS as readonly string[]).includes(s))
    throw new RangeError(`BENCH_ONLY: unknown scenario ${s} (known: ${SCENARIOS.join(', ')})`);
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE || null;
/** The herd: this many clients open #general at once, each with one request, caches cold. */
const HERD = envInt('BENCH_HERD', 2_000);
// Goals of issue 10 (same run, 32 clients): the read path against the `{ __typename }` floor.
const GOAL_LATEST_THROUGHPUT_RATIO = 0.8;
const GOAL_LATEST_P99_RATIO = 1.5;
const GOAL_DEEP_THROUGHPUT_RATIO = 0.5;
const GOAL_HERD_STATEMENTS = 3;

/** What the herd cost the database, by kind of statement (counted on the app's database adapter). */
interface HerdCost {
  total: number;
  page: number;
  access: number;
  profiles: number;
  tokens: number;
  other: number;
}
let herdCost: HerdCost | null = null;

// Relay paging: the list is newest first, so "older than X" is first/after X.
const HISTORY_QUERY = `query History($channelId: ID!, $after: ID, $first: Int) {
  messages(channelId: $channelId, after: $after, first: $first) {
    edges { cursor node { id text createdAt author { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

// The app's history statement (src/domain/messages/messages.service.ts), and the naive one.
const SQL_COLUMNS =
  'id, channel_id, author_id, text, seq, thread_root_id, listed, reply_count, created_at, edited_at, deleted_at';
const SQL_PARTIAL = `SELECT ${SQL_COLUMNS} FROM messages
  WHERE channel_id = $1 AND listed AND id < 9223372036854775807 AND id > 0
  ORDER BY id DESC LIMIT ${PAGE + 1}`;
const SQL_NAIVE = `SELECT ${SQL_COLUMNS} FROM messages
  WHERE channel_id = $1 AND deleted_at IS NULL
  ORDER BY id DESC LIMIT ${PAGE + 1}`;
/** The naive baseline's index: the ordinary one a naive schema would have (created for sql:naive). */
const PARTIAL_INDEX = 'messages_history_idx';
const NAIVE_INDEX = 'bench_naive_history_idx';
const SQL_NAIVE_INDEX = `CREATE INDEX ${NAIVE_INDEX} ON messages (channel_id, id)`;
/**
 * Without it the planner takes the tombstone channel's rows for 1 in 4 live (channel and
 * deleted_at estimated independently) and walks the primary key backwards across both channels
 * instead (200K rows filtered, not 100K). With it, it knows the channel's rows are deleted, and
 * would rather scan the whole table; so the naive statement also runs with enable_seqscan off
 * (its own pool): on the ordinary index, the access path this baseline stands for.
 */
const NAIVE_STATS = 'bench_naive_history_stats';
const SQL_NAIVE_STATS = `CREATE STATISTICS ${NAIVE_STATS} (mcv) ON channel_id, deleted_at FROM messages`;

const log = (msg: string) => process.stderr.write(`[bench:history] ${msg}\n`);

interface Row {
  scenario: string;
  what: string;
  clients: number;
  result: Pick<LoadResult, 'requests' | 'errors' | 'errorSamples' | 'durationMs' | 'throughput' | 'truncated'>;
  summary: Summary;
  /** Server CPU (user + system of this process) per request, warm-up included; HTTP rows only. */
  cpuUsPerRequest?: number;
}

class BenchAbort extends Error {
  override name = 'BenchAbort';
}

// ---------------------------------------------------------------------------------------------

interface Fixture {
  mainChannelId: string;
  tombstoneChannelId: string;
  liveTombstoneMessageId: string;
  mainLastMessageId: string;
  deepBeforeId: string;
  tokens: string[];
  seedMs: number;
}

/** One workspace, 64 users with tokens, #general with 100K messages, #tombstones (100K deleted + 1). */
async function buildFixture(db: Database): Promise<Fixture> {
  const t0 = performance.now();
  const users = Math.max(CONCURRENCY, 64);
  const s = await seed(db, {
    users,
    channels: 1,
    messages: MAIN_MESSAGES,
    tokenUsers: users,
    spreadDays: 30,
    onProgress: (m) => log(`seed: ${m}`),
  });
  const mainChannelId = s.channelIds[0] as string;
  const owner = s.userIds[0] as string;

  // The tombstone channel: written directly (the seed only makes live messages). Ids from a
  // snowflake generator on its own worker, walking the clock from 50 s ago, so they are newer
  // than #general's and still in the past.
  let clock = Date.now() - 50_000;
  const ids = createSnowflake(1022, () => Math.floor(clock));
  const tombstoneChannelId = ids.next();
  const deletedAt = new Date();
  const msgIds: bigint[] = [];
  for (let i = 0; i <= TOMBSTONES; i++) {
    clock += 0.4;
    msgIds.push(ids.next());
  }
  const liveId = msgIds[TOMBSTONES] as bigint;
  const createdAt = msgIds.map((id) => new Date(decodeSnowflake(id).timestampMs));
  await db.withSession(async (q) => {
    await q.exec('BEGIN');
    try {
      await q.query(
        `INSERT INTO channels (id, workspace_id, kind, name, created_by_id, member_count, last_seq, last_message_id)
         VALUES ($1, $2, 'PUBLIC', 'tombstones', $3, $4, $5, $6)`,
        [tombstoneChannelId.toString(), s.workspaceId, owner, s.userIds.length, TOMBSTONES + 1, liveId.toString()],
      );
      await insertRows(q, 'channel_members', [
        { name: 'channel_id', type: 'bigint', values: s.userIds.map(() => tombstoneChannelId) },
        { name: 'user_id', type: 'bigint', values: s.userIds },
        { name: 'last_read_seq', type: 'bigint', values: s.userIds.map(() => TOMBSTONES + 1) },
        { name: 'last_read_message_id', type: 'bigint', values: s.userIds.map(() => liveId) },
      ]);
      await insertRows(q, 'messages', [
        { name: 'id', type: 'bigint', values: msgIds },
        { name: 'channel_id', type: 'bigint', values: msgIds.map(() => tombstoneChannelId) },
        { name: 'author_id', type: 'bigint', values: msgIds.map((_, i) => s.userIds[i % s.userIds.length]) },
        { name: 'text', type: 'text', values: msgIds.map((_, i) => (i === TOMBSTONES ? 'the only live message' : '')) },
        { name: 'seq', type: 'bigint', values: msgIds.map((_, i) => i + 1) },
        { name: 'listed', type: 'boolean', values: msgIds.map((_, i) => i === TOMBSTONES) },
        { name: 'created_at', type: 'timestamptz', values: createdAt },
        {
          name: 'deleted_at',
          type: 'timestamptz',
          values: msgIds.map((_, i) => (i === TOMBSTONES ? null : deletedAt)),
        },
      ]);
      await q.exec('COMMIT');
    } catch (err) {
      await q.exec('ROLLBACK').catch(() => {});
      throw err;
    }
  });
  log(`tombstone channel ${tombstoneChannelId}: ${TOMBSTONES} deleted messages + 1 live (${liveId})`);

  const fx = await db.withSession(async (q) => {
    log('VACUUM ANALYZE');
    await q.exec('VACUUM ANALYZE');
    const deep = await q.query<{ id: string }>(
      'SELECT id::text AS id FROM messages WHERE channel_id = $1 AND listed ORDER BY id ASC OFFSET $2 LIMIT 1',
      [mainChannelId, DEEP_RANK - 1],
    );
    const last = await q.query<{ id: string }>('SELECT last_message_id::text AS id FROM channels WHERE id = $1', [
      mainChannelId,
    ]);
    return { deepBeforeId: deep[0]?.id, mainLastMessageId: last[0]?.id };
  });
  if (!fx.deepBeforeId || !fx.mainLastMessageId)
    throw new Error('fixture: could not find the deep cursor / last message');
  return {
    mainChannelId,
    tombstoneChannelId: tombstoneChannelId.toString(),
    liveTombstoneMessageId: liveId.toString(),
    mainLastMessageId: fx.mainLastMessageId,
    deepBeforeId: fx.deepBeforeId,
    tokens: s.tokens.map((t) => t.token),
    seedMs: performance.now() - t0,
  };
}

// ---------------------------------------------------------------------------------------------

interface GraphQLBody {
  data?: {
    messages?: { edges: { cursor: string; node: { id: string; text: string } }[]; pageInfo: { hasNextPage: boolean } };
  };
  errors?: unknown[];
}

async function postOnce(url: string, token: string, body: string): Promise<GraphQLBody> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  const text = await res.text();
  if (res.status !== 200) throw new BenchAbort(`sanity check: HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as GraphQLBody;
}

/** One request per scenario, checked in detail before any load is generated. */
async function sanityCheck(url: string, fx: Fixture, bodies: Record<string, string>): Promise<void> {
  const token = fx.tokens[0] as string;
  const expectOk = (name: string, r: GraphQLBody) => {
    if (r.errors?.length) throw new BenchAbort(`sanity check ${name}: ${JSON.stringify(r.errors).slice(0, 800)}`);
  };
  const b = await postOnce(url, token, bodies.baseline as string);
  expectOk('baseline', b);

  const latest = await postOnce(url, token, bodies.latest as string);
  expectOk('latest', latest);
  const le = latest.data?.messages?.edges ?? [];
  if (le.length !== PAGE || le[0]?.node.id !== fx.mainLastMessageId || !latest.data?.messages?.pageInfo.hasNextPage) {
    throw new BenchAbort(
      `sanity check latest: expected ${PAGE} edges starting at ${fx.mainLastMessageId} with a next page, got ${le.length} starting at ${le[0]?.node.id}`,
    );
  }
  for (let i = 1; i < le.length; i++) {
    if (
      BigInt((le[i] as { node: { id: string } }).node.id) >= BigInt((le[i - 1] as { node: { id: string } }).node.id)
    ) {
      throw new BenchAbort('sanity check latest: edges are not newest first');
    }
  }

  const deep = await postOnce(url, token, bodies.deep as string);
  expectOk('deep', deep);
  const de = deep.data?.messages?.edges ?? [];
  if (de.length !== PAGE || !(BigInt(de[0]?.node.id ?? '0') < BigInt(fx.deepBeforeId))) {
    throw new BenchAbort(
      `sanity check deep: expected ${PAGE} edges older than ${fx.deepBeforeId}, got ${de.length} starting at ${de[0]?.node.id}`,
    );
  }

  const tomb = await postOnce(url, token, bodies.tombstone as string);
  expectOk('tombstone', tomb);
  const te = tomb.data?.messages?.edges ?? [];
  if (te.length !== 1 || te[0]?.node.id !== fx.liveTombstoneMessageId || tomb.data?.messages?.pageInfo.hasNextPage) {
    throw new BenchAbort(
      `sanity check tombstone: expected exactly the live message ${fx.liveTombstoneMessageId} and no next page, got ${JSON.stringify(te).slice(0, 300)}`,
    );
  }
}

async function dropNaiveIndex(pool: pg.Pool): Promise<void> {
  await pool.query(`DROP INDEX IF EXISTS ${NAIVE_INDEX}`);
  await pool.query(`DROP STATISTICS IF EXISTS ${NAIVE_STATS}`);
}

/** EXPLAIN ANALYZE of one statement: plan shape, rows removed by filter, buffers, time. */
async function explain(pool: pg.Pool, sql: string, params: unknown[]): Promise<string> {
  const r = await pool.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params);
  const doc = (r.rows[0]?.['QUERY PLAN'] as { Plan: PlanNode; 'Execution Time': number }[])[0];
  if (!doc) return '?';
  const nodes: string[] = [];
  let removed = 0;
  const walk = (n: PlanNode) => {
    nodes.push(n['Index Name'] ? `${n['Node Type']} using ${n['Index Name']}` : n['Node Type']);
    removed += n['Rows Removed by Filter'] ?? 0;
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(doc.Plan);
  const buffers = (doc.Plan['Shared Hit Blocks'] ?? 0) + (doc.Plan['Shared Read Blocks'] ?? 0);
  return `${nodes.join(' > ')}; rows removed by filter ${removed}; ${buffers} buffers; ${doc['Execution Time'].toFixed(3)} ms`;
}
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Rows Removed by Filter'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

/** Direct SQL under the same closed-loop load shape as the HTTP scenarios. */
async function runSql(
  pool: pg.Pool,
  name: string,
  sql: string,
  params: unknown[],
  opts: { requests: number; warmup: number; concurrency: number; expectRows: number },
): Promise<LoadResult> {
  const { requests, warmup, concurrency, expectRows } = opts;
  const samples = new Set<string>();
  let errors = 0;
  const one = async () => {
    try {
      const r = await pool.query(sql, params);
      if (r.rowCount !== expectRows) throw new Error(`${r.rowCount} rows, expected ${expectRows}`);
    } catch (err) {
      errors++;
      if (samples.size < 5) samples.add((err as Error).message);
    }
  };
  await runBounded(warmup, concurrency, one);
  const latencies = new Float64Array(requests);
  let n = 0;
  const t0 = performance.now();
  await runBounded(requests, concurrency, async () => {
    const start = performance.now();
    await one();
    latencies[n++] = performance.now() - start;
  });
  const durationMs = performance.now() - t0;
  return {
    name,
    requests: n,
    errors,
    errorSamples: [...samples],
    latenciesMs: Array.from(latencies.subarray(0, n)),
    durationMs,
    throughput: (n / durationMs) * 1000,
    truncated: false,
    bytesReceived: 0,
  };
}

// ---------------------------------------------------------------------------------------------

function pass(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

function report(rows: Row[]): string {
  const find = (name: string, clients: number) => rows.find((r) => r.scenario === name && r.clients === clients);
  const table = formatTable(
    [
      { title: 'scenario' },
      { title: 'what' },
      { title: 'clients', align: 'right' },
      { title: 'requests', align: 'right' },
      { title: 'errors', align: 'right' },
      { title: 'req/s', align: 'right' },
      { title: 'p50 ms', align: 'right' },
      { title: 'p90 ms', align: 'right' },
      { title: 'p99 ms', align: 'right' },
      { title: 'max ms', align: 'right' },
      { title: 'p50 / baseline', align: 'right' },
      { title: 'p99 / baseline', align: 'right' },
      { title: 'server CPU µs/req', align: 'right' },
    ],
    rows.map((r) => {
      const baseline =
        r.scenario.startsWith('sql:') || r.scenario === 'baseline' ? undefined : find('baseline', r.clients)?.summary;
      return [
        r.scenario,
        r.what,
        String(r.clients),
        String(r.result.requests),
        String(r.result.errors),
        fmt(r.result.throughput, 0),
        fmt(r.summary.p50),
        fmt(r.summary.p90),
        fmt(r.summary.p99),
        fmt(r.summary.max),
        baseline ? fmtRatio(ratio(r.summary.p50, baseline.p50)) : '',
        baseline ? fmtRatio(ratio(r.summary.p99, baseline.p99)) : '',
        r.cpuUsPerRequest === undefined ? '' : fmt(r.cpuUsPerRequest, 0),
      ];
    }),
  );
  const lines = [table, ''];
  const passes = [...new Set(rows.filter((r) => !r.scenario.startsWith('sql:')).map((r) => r.clients))];
  for (const clients of passes) {
    const latest = find('latest', clients)?.summary;
    const tomb = find('tombstone', clients)?.summary;
    if (!latest) continue;
    const parts = [
      `${clients} client${clients === 1 ? '' : 's'}: latest p99 ${fmt(latest.p99)} ms (goal < ${GOAL_LATEST_P99_MS} ms: ${pass(latest.p99 < GOAL_LATEST_P99_MS)})`,
    ];
    if (tomb) {
      const t = ratio(tomb.p99, latest.p99);
      parts.push(
        `tombstone p99 / latest p99 ${fmtRatio(t)} (goal <= ${GOAL_TOMBSTONE_RATIO}x: ${pass(t <= GOAL_TOMBSTONE_RATIO)})`,
      );
      parts.push(`tombstone p50 / latest p50 ${fmtRatio(ratio(tomb.p50, latest.p50))}`);
    }
    lines.push(parts.join('; '));
  }
  const floor = find('baseline', CONCURRENCY);
  const latestRow = find('latest', CONCURRENCY);
  const deepRow = find('deep', CONCURRENCY);
  if (floor && latestRow && deepRow) {
    const tput = ratio(latestRow.result.throughput, floor.result.throughput);
    const p99 = ratio(latestRow.summary.p99, floor.summary.p99);
    const deep = ratio(deepRow.result.throughput, floor.result.throughput);
    lines.push(
      `${CONCURRENCY} clients against the { __typename } floor: newest page req/s ${fmtRatio(tput)} (goal >= ${GOAL_LATEST_THROUGHPUT_RATIO}: ${pass(tput >= GOAL_LATEST_THROUGHPUT_RATIO)}); ` +
        `newest page p99 ${fmtRatio(p99)} (goal <= ${GOAL_LATEST_P99_RATIO}: ${pass(p99 <= GOAL_LATEST_P99_RATIO)}); ` +
        `deep page req/s ${fmtRatio(deep)} (goal >= ${GOAL_DEEP_THROUGHPUT_RATIO}: ${pass(deep >= GOAL_DEEP_THROUGHPUT_RATIO)})`,
    );
  }
  const herdRow = rows.find((r) => r.scenario === 'herd');
  if (herdRow && herdCost) {
    const readPath = herdCost.page + herdCost.access + herdCost.profiles;
    lines.push(
      `herd: ${HERD} clients open one channel at once (cold caches): ${herdCost.total} SQL statements ` +
        `(page ${herdCost.page}, access ${herdCost.access}, profiles ${herdCost.profiles}, token lookups ${herdCost.tokens}, other ${herdCost.other}); ` +
        `read path ${readPath} (goal <= ${GOAL_HERD_STATEMENTS}: ${pass(readPath <= GOAL_HERD_STATEMENTS)}); p99 ${fmt(herdRow.summary.p99)} ms`,
    );
  }
  const sqlPasses = [...new Set(rows.filter((r) => r.scenario.startsWith('sql:')).map((r) => r.clients))];
  for (const clients of sqlPasses) {
    const partial = find('sql:partial', clients);
    const naive = find('sql:naive', clients);
    if (partial && naive) {
      lines.push(
        `tombstone SQL at ${clients} client${clients === 1 ? '' : 's'}, naive (ordinary index over all rows) / partial index over live rows: ` +
          `p50 ${fmtRatio(ratio(naive.summary.p50, partial.summary.p50), 1)}, p99 ${fmtRatio(ratio(naive.summary.p99, partial.summary.p99), 1)}, ` +
          `throughput ${fmtRatio(ratio(partial.result.throughput, naive.result.throughput), 1)} in favour of the partial index`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  const watchdog = setTimeout(() => {
    log(`ABORT: still running after ${TIMEOUT_S} s (BENCH_TIMEOUT_S)`);
    process.exit(2);
  }, TIMEOUT_S * 1000);
  watchdog.unref();

  const { url, scratch } = await prepareDatabase(SCRATCH_DB);
  log(`database: ${scratch ? `${SCRATCH_DB} (scratch, recreated)` : 'DATABASE_URL'}`);
  let app: Awaited<ReturnType<typeof buildApp>> | null = null;
  let worker: LoadWorker | null = null;
  let pool: pg.Pool | null = null;
  let naivePool: pg.Pool | null = null;
  const rows: Row[] = [];
  /** Wrong results, printed after the report; exit code 1. */
  const failures = new Failures('bench:history');
  let naiveIndexCreated = false;
  let failed = false;
  try {
    // 1. Fixture, through the project's own database port and migrator.
    const fx = await withMigratedDatabase(url, buildFixture);
    log(`fixture ready in ${(fx.seedMs / 1000).toFixed(1)} s`);

    // 2. The app, in this process, on a free loopback port.
    const config = loadConfig(gatewayEnv(url));
    app = await buildApp({ ...config });
    const { url: gqlUrl } = await app.start();
    log(
      `app listening at ${gqlUrl} (database pool ${config.database.kind === 'postgres' ? config.database.poolSize : '-'})`,
    );

    const body = (variables: Record<string, unknown>) =>
      JSON.stringify({ query: HISTORY_QUERY, operationName: 'History', variables });
    const bodies: Record<string, string> = {
      baseline: JSON.stringify({ query: '{ __typename }' }),
      latest: body({ channelId: fx.mainChannelId, first: PAGE }),
      deep: body({ channelId: fx.mainChannelId, after: fx.deepBeforeId, first: PAGE }),
      tombstone: body({ channelId: fx.tombstoneChannelId, first: PAGE }),
    };
    await sanityCheck(gqlUrl, fx, bodies);
    log('sanity checks passed');

    // 3. HTTP load from a separate process.
    worker = await startLoadWorker();
    log(`load generator: pid ${worker.pid}`);
    const edges = ['messages', 'edges'];
    const scenarios: { scenario: string; what: string; job: Partial<LoadJob> }[] = [
      {
        scenario: 'baseline',
        what: '{ __typename } (HTTP + auth + GraphQL)',
        job: { body: bodies.baseline, check: { graphql: true, path: ['__typename'] } },
      },
      {
        scenario: 'latest',
        what: `newest ${PAGE} of ${MAIN_MESSAGES / 1000}K`,
        job: { body: bodies.latest, check: { graphql: true, path: edges, length: PAGE } },
      },
      {
        scenario: 'deep',
        what: `${PAGE} before the ${DEEP_RANK}th-oldest`,
        job: { body: bodies.deep, check: { graphql: true, path: edges, length: PAGE } },
      },
      {
        scenario: 'tombstone',
        what: `newest ${PAGE}: ${TOMBSTONES / 1000}K deleted + 1 live`,
        job: { body: bodies.tombstone, check: { graphql: true, path: edges, length: 1 } },
      },
    ];
    const clientHeaders = fx.tokens.map((t) => ({ authorization: `Bearer ${t}` }));
    const record = (scenario: string, what: string, clients: number, r: LoadResult, cpuUsPerRequest?: number) => {
      const summary = summarize(r.latenciesMs);
      rows.push({ scenario, what, clients, result: r, summary, cpuUsPerRequest });
      log(
        `${scenario} x${clients}: ${r.requests} requests, ${r.errors} errors, ${r.throughput.toFixed(0)} req/s, ` +
          `p50 ${fmt(summary.p50)} ms, p99 ${fmt(summary.p99)} ms`,
      );
      // Errors (HTTP, GraphQL, a page of the wrong size, a wrong SQL row count) are wrong results;
      // the run goes on so the other scenarios are still measured and shown.
      failures.check(
        r.errors === 0 && !r.truncated,
        () =>
          `scenario ${scenario} x${clients}: ${r.errors} errors${r.truncated ? ' (run truncated by its deadline)' : ''}: ${r.errorSamples.join(' | ')}`,
      );
    };
    const passes = [
      { clients: CONCURRENCY, requests: REQUESTS, warmup: WARMUP },
      { clients: LOW_CONCURRENCY, requests: LOW_REQUESTS, warmup: Math.min(WARMUP, 100) },
    ];
    for (const p of passes) {
      for (const s of scenarios) {
        if (!ONLY.has(s.scenario)) continue;
        const job: LoadJob = {
          name: s.scenario,
          url: gqlUrl,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          clientHeaders,
          concurrency: p.clients,
          requests: p.requests,
          warmup: p.warmup,
          timeoutMs: 10_000,
          maxDurationMs: 300_000,
          ...s.job,
        };
        const cpu0 = process.cpuUsage();
        const profiled = CPU_PROFILE_DIR !== null && p.clients === CONCURRENCY;
        const { result: r, profile } = profiled
          ? await profileCpu(() => worker!.run(job))
          : { result: await worker.run(job), profile: null };
        const cpu = process.cpuUsage(cpu0);
        const served = r.requests + p.warmup;
        record(s.scenario, s.what, p.clients, r, (cpu.user + cpu.system) / served);
        if (profile && CPU_PROFILE_DIR) {
          mkdirSync(CPU_PROFILE_DIR, { recursive: true });
          const file = `${CPU_PROFILE_DIR}/history-${s.scenario}-${p.clients}.cpuprofile`;
          writeFileSync(file, JSON.stringify(profile));
          log(`CPU profile written to ${file}\n${formatBuckets(bucketize(profile), served)}`);
        }
      }
    }
    // 3b. The herd: HERD clients, one request each, all at once, on #general with the channel
    // cache emptied and the profile cache expired (5 s): what a viral channel costs. The load
    // generator is another process; statements are counted on the app's database adapter.
    if (ONLY.has('herd')) {
      app.services.channels.cache.clear();
      await new Promise((r) => setTimeout(r, 5_500));
      const herd = await app.db.statements.during(() =>
        worker!.run({
          name: 'herd',
          url: gqlUrl,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          clientHeaders,
          concurrency: HERD,
          requests: HERD,
          warmup: 0,
          timeoutMs: 60_000,
          maxDurationMs: 300_000,
          body: bodies.latest,
          check: { graphql: true, path: edges, length: PAGE },
        }),
      );
      const kinds = {
        page: (q: string) => /FROM messages/.test(q),
        access: (q: string) => /JOIN channels c ON c\.id = x\.c|FROM channels c WHERE c\.id = ANY/.test(q),
        profiles: (q: string) => /FROM ("public"\.)?"?users\b/.test(q),
        tokens: (q: string) => /FROM "public"\."(tokens|bots)"/.test(q),
      };
      herdCost = {
        total: herd.count,
        page: herd.sql.filter(kinds.page).length,
        access: herd.sql.filter(kinds.access).length,
        profiles: herd.sql.filter(kinds.profiles).length,
        tokens: herd.sql.filter(kinds.tokens).length,
        other: herd.sql.filter((q) => !Object.values(kinds).some((k) => k(q))).length,
      };
      record('herd', `${HERD} clients open #general at once (cold caches)`, HERD, herd.result);
      log(`herd statements: ${JSON.stringify(herdCost)}`);
    }
    await worker.close();
    worker = null;

    // 4. Direct SQL: the app's partial-index statement vs the naive one, same channel, same load shape.
    pool = new pg.Pool({ connectionString: url, max: CONCURRENCY });
    pool.on('error', (err) => log(`sql pool: idle connection error: ${err.message}`));
    let plans = { partial: 'not run (BENCH_ONLY)', naive: 'not run (BENCH_ONLY)' };
    if (ONLY.has('sql')) {
      // A fair naive baseline has the ordinary index a naive schema would have: (channel_id, id)
      // over every row, deleted ones included (created after the HTTP scenarios, so they run on the
      // app's schema alone; dropped after the SQL runs).
      naiveIndexCreated = true;
      await pool.query(SQL_NAIVE_INDEX);
      await pool.query(SQL_NAIVE_STATS);
      naivePool = new pg.Pool({ connectionString: url, max: CONCURRENCY, options: '-c enable_seqscan=off' });
      naivePool.on('error', (err) => log(`naive sql pool: idle connection error: ${err.message}`));
      await pool.query('ANALYZE messages');
      plans = {
        partial: await explain(pool, SQL_PARTIAL, [fx.tombstoneChannelId]),
        naive: await explain(naivePool, SQL_NAIVE, [fx.tombstoneChannelId]),
      };
      log(`plan, partial: ${plans.partial}`);
      log(`plan, naive:   ${plans.naive}`);
      // Each statement must run on the index it stands for, or the comparison measures something else.
      failures.check(
        plans.partial.includes(`using ${PARTIAL_INDEX}`),
        `sql:partial does not use ${PARTIAL_INDEX}: ${plans.partial}`,
      );
      failures.check(
        plans.naive.includes(`using ${NAIVE_INDEX}`),
        `sql:naive does not use ${NAIVE_INDEX}: ${plans.naive}`,
      );
      const tombParams = [fx.tombstoneChannelId];
      for (const p of passes) {
        record(
          'sql:partial',
          'tombstone SQL, partial index (listed)',
          p.clients,
          await runSql(pool, 'sql:partial', SQL_PARTIAL, tombParams, {
            requests: p.requests,
            warmup: p.warmup,
            concurrency: p.clients,
            expectRows: 1,
          }),
        );
        const naiveRequests = p.clients === CONCURRENCY ? NAIVE_REQUESTS : Math.min(NAIVE_REQUESTS, 200);
        record(
          'sql:naive',
          'tombstone SQL, deleted_at IS NULL, ordinary (channel_id, id) index',
          p.clients,
          await runSql(naivePool, 'sql:naive', SQL_NAIVE, tombParams, {
            requests: naiveRequests,
            warmup: Math.min(p.warmup, p.clients * 2),
            concurrency: p.clients,
            expectRows: 1,
          }),
        );
      }
      await dropNaiveIndex(pool);
      naiveIndexCreated = false;
    }

    // 5. Report.
    const pgVersion =
      (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
    const cpu = cpus();
    const header = [
      `bench:history  ${started.toISOString()}`,
      `node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL ${pgVersion}`,
      `server: buildApp in the bench process (NODE_ENV=production, pool ${config.database.kind === 'postgres' ? config.database.poolSize : '-'}); ` +
        `load: keep-alive clients in a forked process; ${CONCURRENCY} clients: ${WARMUP} warm-up + ${REQUESTS} requests per scenario ` +
        `(naive SQL: ${NAIVE_REQUESTS}); ${LOW_CONCURRENCY} client${LOW_CONCURRENCY === 1 ? '' : 's'}: ${Math.min(WARMUP, 100)} + ${LOW_REQUESTS} ` +
        `(naive SQL: ${Math.min(NAIVE_REQUESTS, 200)}); latency = request written -> response body read`,
      `fixture: #general ${MAIN_MESSAGES} messages; #tombstones ${TOMBSTONES} deleted + 1 live; ${fx.tokens.length} users with session tokens`,
      `plans (EXPLAIN ANALYZE, one run): partial: ${plans.partial}`,
      `                                   naive:   ${plans.naive}`,
    ].join('\n');
    const text = `${header}\n\n${report(rows)}\n`;
    process.stdout.write(`\n${text}`);
    try {
      mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
      const file = new URL(`./results/history-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
      writeFileSync(
        file,
        JSON.stringify(
          {
            started: started.toISOString(),
            header,
            herd: herdCost,
            rows: rows.map((r) => ({
              scenario: r.scenario,
              what: r.what,
              clients: r.clients,
              ...r.result,
              summary: r.summary,
            })),
          },
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
    if (rows.length > 0) process.stdout.write(`\n(partial results)\n${report(rows)}\n`);
    if (err instanceof BenchAbort) log(`ABORT: ${err.message}`);
    else log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    failures.add(`aborted: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await worker?.close().catch(() => {});
    await naivePool?.end().catch(() => {});
    if (naiveIndexCreated && pool) await dropNaiveIndex(pool).catch(() => {});
    await pool?.end().catch(() => {});
    await app?.stop().catch((e: unknown) => log(`app.stop failed: ${(e as Error).message}`));
    if (scratch && !process.env.BENCH_KEEP_DB) {
      await dropScratch(SCRATCH_DB).catch((e: unknown) => log(`could not drop ${SCRATCH_DB}: ${(e as Error).message}`));
    }
    clearTimeout(watchdog);
  }
  failures.report();
  if (failed) process.exitCode = 1;
}

await main();
