/**
 * Search benchmark (`npm run bench:search`): Query.search over HTTP on PostgreSQL with 1,000,000
 * messages, and the indexing lag (sendMessage acknowledged -> message found) at 500 messages/s.
 *
 * PostgreSQL only. With DATABASE_URL set, that (empty) database is used; otherwise the scratch
 * database `chat_bench_search` on postgresql://postgres@127.0.0.1:5432 is dropped, recreated, and
 * dropped again at the end (BENCH_KEEP_DB=1 keeps it).
 *
 * 1. Fixture: bench/seed.ts's bulk seed (one workspace, BENCH_USERS users, BENCH_CHANNELS public
 *    channels, BENCH_MESSAGES lorem-ipsum messages over 365 days, ~10% with a mention); then a
 *    fifth of the channels become private with about half of the users removed from each (so the
 *    access filter is a real subset), and rare words are appended: `zanzibar` to ~0.1% of messages,
 *    `marmoset` to ~0.01%. The search index is built with the app's own reindex
 *    (SearchService.reindex, the code behind `npm run reindex`), then VACUUM ANALYZE.
 * 2. The app (buildApp: the real HTTP server, NODE_ENV=production, the inline outbox worker with
 *    its default poll interval) runs in this process; the HTTP load generator runs in a forked
 *    child (bench/lib/http-load.ts). Each client is a different seeded user (own bearer token).
 * 3. Query kinds, each checked once in detail, then BENCH_REQUESTS requests from BENCH_CONCURRENCY
 *    closed-loop clients (after a warm-up), then a 1-client pass for the service time.
 * 4. Indexing lag, at each rate of BENCH_LAG_RATES (500 and 150 messages/s): a forked driver sends
 *    sendMessage at that rate (open loop, at most 128 in flight) for BENCH_LAG_SECONDS, spread over
 *    channels and users; every message carries a unique token. Lag is measured from commit: the
 *    moment the sendMessage response arrived at the driver (the mutation answers after its
 *    transaction committed, so that is when the commit was acknowledged; not when the request
 *    was sent, which would add the send's own latency). Lag per message = search_documents.
 *    indexed_at (clock_timestamp() when the worker wrote it) minus that moment; and for every
 *    BENCH_LAG_PROBE_EVERY-th message (at most 4 at a time) the driver polls Query.search for its
 *    token every 50 ms until found, from that same moment to the search response that has it.
 *
 * Knobs (env): BENCH_MESSAGES (1000000), BENCH_USERS (1000), BENCH_CHANNELS (50), BENCH_REQUESTS
 * (1000), BENCH_WARMUP (100), BENCH_CONCURRENCY (32), BENCH_LOW_REQUESTS (200), BENCH_LAG_RATES (500,150),
 * BENCH_LAG_SECONDS (20), BENCH_LAG_PROBE_EVERY (25), BENCH_KEEP_DB (keep the scratch database and
 * its fixture), BENCH_REUSE_DB (run again on a kept one, skipping the seed), BENCH_TIMEOUT_S (2400).
 *
 * Wrong results fail the run (exit code 1, listed after the report): a sanity check that does not
 * hold, any request error, any send or probe error in the lag driver, an acknowledged message
 * that was never indexed. Slow indexing (a probe not answered in 10 s) is a goal missed.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDatabase } from '../src/infra/db/database.js';
import { migrate } from '../src/infra/db/migrator.js';
import { createPostgresSearchIndex } from '../src/infra/search/postgres.search.js';
import { createSearchService } from '../src/domain/search/search.service.js';
import type { ServiceDeps } from '../src/domain/deps.js';
import { startLoadWorker, type LoadResult, type LoadWorker } from './lib/http-load.js';
import { fmt, formatTable, summarize, type Summary } from './lib/stats.js';
import { seed } from './seed.js';
import { dropScratch, prepareDatabase as prepareScratch, scratchUrl } from './lib/scratch-db.js';
import { envInt, gatewayEnv } from './lib/env.js';
import { Failures } from './lib/failures.js';

const SCRATCH_DB = 'chat_bench_search';
const GOAL_FILTERED_P99_MS = 50;
const GOAL_LAG_P99_MS = 1_000;

const MESSAGES = envInt('BENCH_MESSAGES', 1_000_000);
const USERS = envInt('BENCH_USERS', 1_000);
const CHANNELS = envInt('BENCH_CHANNELS', 50);
const REQUESTS = envInt('BENCH_REQUESTS', 1_000);
const WARMUP = envInt('BENCH_WARMUP', 100);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 32);
const LOW_REQUESTS = envInt('BENCH_LOW_REQUESTS', 200);
const LAG_RATES = (process.env.BENCH_LAG_RATES ?? '500,150').split(',').map((v) => {
  const n = Number(v.trim());
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`BENCH_LAG_RATES must be positive integers, got ${v}`);
  return n;
});
const LAG_SECONDS = envInt('BENCH_LAG_SECONDS', 20);
const LAG_PROBE_EVERY = envInt('BENCH_LAG_PROBE_EVERY', 25);
const LAG_MAX_PROBES = 4; // probes in flight at most: probing must not become the load
const TIMEOUT_S = envInt('BENCH_TIMEOUT_S', 2_400);

const SEARCH_QUERY = `query Search($query: String!, $sort: SearchSort, $first: Int) {
  search(query: $query, sort: $sort, first: $first) {
    edges { cursor node { snippet message { id text createdAt author { id name } } channel { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const COUNT_QUERY = `query SearchCount($query: String!) { search(query: $query, first: 20) { totalCount totalCountIsExact edges { node { snippet } } } }`;

const log = (msg: string) => process.stderr.write(`[bench:search] ${msg}\n`);

class BenchAbort extends Error {
  override name = 'BenchAbort';
}

// ---------------------------------------------------------------------------------------------
// Lag driver (runs in a forked child: `search.bench.ts --lag-driver`)

interface LagJob {
  url: string;
  tokens: string[];
  channelIds: string[];
  rate: number;
  seconds: number;
  probeEvery: number;
  maxProbes: number;
}
interface LagResult {
  /** ackEpochMs: Date.now() when the sendMessage response (the commit's acknowledgement) arrived. */
  sent: { id: string; ackEpochMs: number }[];
  probes: number[];
  probeMisses: number;
  errors: number;
  errorSamples: string[];
  achievedRate: number;
  ackLatencies: number[];
}

async function runLagDriver(job: LagJob): Promise<LagResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 160 });
  const u = new URL(job.url);
  /** `endAt` / `endEpochMs`: when the response's last byte arrived (taken in the 'end' handler). */
  const post = (token: string, body: string) =>
    new Promise<{ status: number; text: string; endAt: number; endEpochMs: number }>((resolve, reject) => {
      const req = http.request(
        {
          agent,
          hostname: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${token}`,
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              endAt: performance.now(),
              endEpochMs: Date.now(),
            }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  const SEND = 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }';
  // The token as a word, as a user would type it; it also matches longer tokens by prefix (x12 ->
  // x120), so a probe only counts when its own message is among the hits.
  const FIND = 'query($q: String!) { search(query: $q, sort: NEWEST, first: 5) { edges { node { message { id } } } } }';
  const result: LagResult = {
    sent: [],
    probes: [],
    probeMisses: 0,
    errors: 0,
    errorSamples: [],
    achievedRate: 0,
    ackLatencies: [],
  };
  const fail = (e: string) => {
    result.errors++;
    if (result.errorSamples.length < 5) result.errorSamples.push(e);
  };
  const total = job.rate * job.seconds;
  const intervalMs = 1000 / job.rate;
  const pending = new Set<Promise<void>>();
  const probes = new Set<Promise<void>>();
  const t0 = performance.now();
  const run = `lag${Date.now().toString(36)}`;
  for (let i = 0; i < total; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    if (pending.size >= 128) await Promise.race(pending);
    const token = job.tokens[i % job.tokens.length]!;
    const channelId = job.channelIds[(i * 7) % job.channelIds.length]!;
    const word = `${run}x${i}`;
    const p = (async () => {
      const start = performance.now();
      try {
        const r = await post(
          token,
          JSON.stringify({ query: SEND, variables: { input: { channelId, text: `lorem ipsum ${word} dolor` } } }),
        );
        // Lag is measured from commit: the mutation responds after its transaction committed, so
        // the response's arrival is the commit's acknowledgement (taken when its last byte came in,
        // before parsing). Both lags below start here; the send's own latency is not in them.
        const ackEpochMs = r.endEpochMs;
        const ackAt = r.endAt;
        result.ackLatencies.push(ackAt - start);
        const body = JSON.parse(r.text) as { data?: { sendMessage?: { id: string } }; errors?: unknown[] };
        const id = body.data?.sendMessage?.id;
        if (r.status !== 200 || !id) return fail(`send: HTTP ${r.status} ${r.text.slice(0, 200)}`);
        result.sent.push({ id, ackEpochMs });
        if (i % job.probeEvery === 0 && probes.size < job.maxProbes) {
          const probe = (async () => {
            const deadline = ackAt + 10_000;
            for (;;) {
              const s = await post(token, JSON.stringify({ query: FIND, variables: { q: word } }));
              const body = JSON.parse(s.text) as {
                data?: { search?: { edges: { node: { message: { id: string } } }[] } };
                errors?: unknown[];
              };
              if (body.errors) throw new Error(`probe search: ${JSON.stringify(body.errors).slice(0, 200)}`);
              const found = (body.data?.search?.edges ?? []).some((e) => e.node.message.id === id);
              if (found) {
                result.probes.push(s.endAt - ackAt);
                return;
              }
              if (performance.now() > deadline) {
                result.probeMisses++;
                return;
              }
              await new Promise((r) => setTimeout(r, 50));
            }
          })().catch((e: unknown) => fail(`probe: ${(e as Error).message}`));
          probes.add(probe);
          void probe.finally(() => probes.delete(probe));
        }
      } catch (e) {
        fail(`send: ${(e as Error).message}`);
      }
    })();
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }
  await Promise.all(pending);
  result.achievedRate = (result.sent.length / (performance.now() - t0)) * 1000;
  await Promise.all(probes);
  agent.destroy();
  return result;
}

if (process.argv.includes('--lag-driver') && process.send) {
  process.on('message', (job: LagJob) => {
    runLagDriver(job).then(
      (r) => process.send!({ ok: true, result: r }),
      (e: unknown) => process.send!({ ok: false, error: (e as Error).stack ?? String(e) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}

function startLagDriver(job: LagJob): Promise<LagResult> {
  const child = fork(fileURLToPath(import.meta.url), ['--lag-driver'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<LagResult>((resolve, reject) => {
    const timer = setTimeout(
      () => {
        child.kill('SIGKILL');
        reject(new Error('lag driver timed out'));
      },
      (job.seconds + 120) * 1000,
    );
    child.on('message', (m: { ready?: boolean; ok?: boolean; result?: LagResult; error?: string }) => {
      if (m.ready) child.send(job);
      else {
        clearTimeout(timer);
        child.disconnect();
        if (m.ok) resolve(m.result!);
        else reject(new Error(`lag driver: ${m.error}`));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lag driver exited with ${code}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------

const FIXTURE_FILE = `/tmp/${SCRATCH_DB}.fixture.json`;
/** BENCH_REUSE_DB=1 (after a run with BENCH_KEEP_DB=1): reuse the kept scratch database and its fixture. */
const REUSE = process.env.BENCH_REUSE_DB === '1';

async function prepareDatabase(): Promise<{ url: string; scratch: boolean }> {
  // BENCH_REUSE_DB=1 keeps an already seeded scratch database (seeding 1M messages takes minutes).
  if (REUSE && !process.env.DATABASE_URL) return { url: scratchUrl(SCRATCH_DB), scratch: true };
  return prepareScratch(SCRATCH_DB);
}

interface Fixture {
  tokens: string[];
  publicChannelIds: string[];
  /** A seeded user with zanzibar messages, as from:@ takes it. */
  rareAuthor: string;
  seedMs: number;
  reindexMs: number;
  reindexRate: number;
  tableSize: string;
  indexSizes: string;
  counts: Record<string, number>;
}

async function buildFixture(url: string): Promise<Fixture> {
  const db = await createDatabase({ kind: 'postgres', url, poolSize: 4 });
  try {
    await migrate(db);
    const t0 = performance.now();
    const s = await seed(db, {
      users: USERS,
      channels: CHANNELS,
      messages: MESSAGES,
      tokenUsers: 64,
      spreadDays: 365,
      onProgress: (m) => log(`seed: ${m}`),
    });
    const privateIds = s.channelIds.slice(1).filter((_, i) => i % 5 === 4);
    await db.withSession(async (q) => {
      await q.query(`UPDATE channels SET kind = 'PRIVATE' WHERE id = ANY($1::text[]::bigint[])`, [privateIds]);
      await q.query(
        `DELETE FROM channel_members WHERE channel_id = ANY($1::text[]::bigint[]) AND (hashtext(user_id::text || ':' || channel_id::text) & 1) = 0`,
        [privateIds],
      );
      await q.query(
        `UPDATE channels c SET member_count = (SELECT count(*) FROM channel_members m WHERE m.channel_id = c.id) WHERE id = ANY($1::text[]::bigint[])`,
        [privateIds],
      );
      await q.query(`UPDATE messages SET text = text || ' zanzibar' WHERE id % 997 = 0`);
      await q.query(`UPDATE messages SET text = text || ' marmoset' WHERE id % 9973 = 0`);
    });
    const seedMs = performance.now() - t0;
    log(
      `fixture: ${MESSAGES} messages, ${privateIds.length} of ${s.channelIds.length} channels private, in ${(seedMs / 1000).toFixed(1)} s`,
    );

    // The index, through the app's own reindex.
    const index = createPostgresSearchIndex({ prisma: db.prisma, language: 'english' });
    const search = createSearchService({
      prisma: db.prisma,
      limits: { maxMessageLength: 40_000, maxPageSize: 100 },
      searchIndex: index,
    } as ServiceDeps);
    let last = 0;
    const r = await search.reindex({
      batchSize: 5_000,
      onProgress: (p) => {
        if (p.done - last >= MESSAGES / 10 || p.done === p.total) {
          last = p.done;
          log(`reindex: ${p.done}/${p.total} (${Math.round(p.done / (p.elapsedMs / 1000))}/s)`);
        }
      },
    });
    const stats = await db.withSession(async (q) => {
      log('VACUUM ANALYZE');
      await q.exec('VACUUM ANALYZE');
      const size = await q.query<{ t: string; i: string }>(
        `SELECT pg_size_pretty(pg_table_size('search_documents')) AS t,
                (SELECT string_agg(indexrelname || ' ' || pg_size_pretty(pg_relation_size(indexrelid)), ', ' ORDER BY indexrelname)
                   FROM pg_stat_user_indexes WHERE relname = 'search_documents') AS i`,
      );
      const counts: Record<string, number> = {};
      for (const [name, sql] of [
        ['documents', `SELECT count(*)::int AS n FROM search_documents`],
        ['lorem', `SELECT count(*)::int AS n FROM search_documents WHERE tsv @@ to_tsquery('english', 'lorem')`],
        ['zanzibar', `SELECT count(*)::int AS n FROM search_documents WHERE tsv @@ to_tsquery('english', 'zanzibar')`],
        ['marmoset', `SELECT count(*)::int AS n FROM search_documents WHERE tsv @@ to_tsquery('english', 'marmoset')`],
      ] as const) {
        counts[name] = (await q.query<{ n: number }>(sql))[0]!.n;
      }
      return { tableSize: size[0]!.t, indexSizes: size[0]!.i, counts };
    });
    const publicIds = await db.withSession((q) =>
      q.query<{ id: string }>(`SELECT id::text AS id FROM channels WHERE kind = 'PUBLIC' ORDER BY id`),
    );
    const rare = await db.withSession((q) =>
      q.query<{ name: string }>(
        `SELECT u.name FROM messages m JOIN users u ON u.id = m.author_id WHERE m.text LIKE '%zanzibar%' GROUP BY u.name ORDER BY count(*) DESC, u.name LIMIT 1`,
      ),
    );
    return {
      tokens: s.tokens.map((t) => t.token),
      publicChannelIds: publicIds.map((p) => p.id),
      rareAuthor: (rare[0]?.name ?? 'User 1').toLowerCase().replace(/\s+/g, ''),
      seedMs,
      reindexMs: r.elapsedMs,
      reindexRate: r.indexed / (r.elapsedMs / 1000),
      ...stats,
    };
  } finally {
    await db.close();
  }
}

interface Row {
  scenario: string;
  query: string;
  filtered: boolean;
  clients: number;
  result: Pick<LoadResult, 'requests' | 'errors' | 'errorSamples' | 'durationMs' | 'throughput' | 'truncated'>;
  summary: Summary;
}

async function main(): Promise<void> {
  const started = new Date();
  const watchdog = setTimeout(() => {
    log(`ABORT: still running after ${TIMEOUT_S} s (BENCH_TIMEOUT_S)`);
    process.exit(2);
  }, TIMEOUT_S * 1000);
  watchdog.unref();

  const { url, scratch } = await prepareDatabase();
  log(`database: ${scratch ? `${SCRATCH_DB} (scratch, recreated)` : 'DATABASE_URL'}`);
  let app: Awaited<ReturnType<typeof buildApp>> | null = null;
  let worker: LoadWorker | null = null;
  const rows: Row[] = [];
  /** Wrong results, printed after the report; exit code 1. */
  const failures = new Failures('bench:search');
  let failed = false;
  try {
    const fx: Fixture = REUSE ? (JSON.parse(readFileSync(FIXTURE_FILE, 'utf8')) as Fixture) : await buildFixture(url);
    if (process.env.BENCH_KEEP_DB && !REUSE) writeFileSync(FIXTURE_FILE, JSON.stringify(fx));

    const config = loadConfig(gatewayEnv(url));
    app = await buildApp(config);
    const { url: gqlUrl } = await app.start();
    log(
      `app listening at ${gqlUrl} (pool ${config.database.kind === 'postgres' ? config.database.poolSize : '-'}, outbox poll ${config.outbox.pollMs} ms)`,
    );

    const recent = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10);
    const old = new Date(Date.now() - 300 * 86_400_000).toISOString().slice(0, 10);
    const scenarios: { scenario: string; query: string; sort: 'RELEVANCE' | 'NEWEST'; filtered: boolean }[] = [
      { scenario: 'common', query: 'lorem', sort: 'RELEVANCE', filtered: false },
      { scenario: 'common:newest', query: 'lorem', sort: 'NEWEST', filtered: false },
      { scenario: 'common:2words', query: 'lorem ipsum', sort: 'RELEVANCE', filtered: false },
      { scenario: 'phrase', query: '"dolor sit"', sort: 'RELEVANCE', filtered: false },
      { scenario: 'prefix', query: 'consect', sort: 'RELEVANCE', filtered: false },
      { scenario: 'rare', query: 'zanzibar', sort: 'RELEVANCE', filtered: false },
      { scenario: 'rarest', query: 'marmoset', sort: 'RELEVANCE', filtered: false },
      { scenario: 'common+in', query: 'lorem in:#channel-7', sort: 'RELEVANCE', filtered: true },
      { scenario: 'common+from', query: 'lorem from:@user7', sort: 'RELEVANCE', filtered: true },
      { scenario: 'common+after', query: `lorem after:${recent}`, sort: 'RELEVANCE', filtered: true },
      { scenario: 'common+before', query: `lorem before:${old}`, sort: 'NEWEST', filtered: true },
      { scenario: 'common+mentions', query: 'lorem mentions:@user3', sort: 'RELEVANCE', filtered: true },
      { scenario: 'rare+in', query: 'zanzibar in:#channel-3', sort: 'RELEVANCE', filtered: true },
      { scenario: 'rare+from', query: `zanzibar from:@${fx.rareAuthor}`, sort: 'NEWEST', filtered: true },
      { scenario: 'filters only', query: 'from:@user5 in:#general', sort: 'NEWEST', filtered: true },
    ];
    const bodyOf = (s: (typeof scenarios)[number]) =>
      JSON.stringify({ query: SEARCH_QUERY, variables: { query: s.query, sort: s.sort, first: 20 } });

    // Sanity: each query once, in detail.
    const token0 = fx.tokens[0]!;
    const sample: Record<string, number> = {};
    for (const s of scenarios) {
      const res = await fetch(gqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token0}` },
        body: bodyOf(s),
      });
      const j = (await res.json()) as {
        data?: { search: { edges: { node: { snippet: string } }[] } };
        errors?: unknown;
      };
      if (res.status !== 200 || j.errors || !j.data)
        throw new BenchAbort(`sanity ${s.scenario}: ${res.status} ${JSON.stringify(j).slice(0, 500)}`);
      sample[s.scenario] = j.data.search.edges.length;
    }
    const countRes = (await (
      await fetch(gqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token0}` },
        body: JSON.stringify({ query: COUNT_QUERY, variables: { query: 'zanzibar' } }),
      })
    ).json()) as { data?: { search: { totalCount: number } } };
    log(
      `sanity: page sizes ${JSON.stringify(sample)}; zanzibar totalCount for user1 ${countRes.data?.search.totalCount}`,
    );

    worker = await startLoadWorker();
    const clientHeaders = fx.tokens.map((t) => ({ authorization: `Bearer ${t}` }));
    const record = (
      s: (typeof scenarios)[number] | { scenario: string; query: string; filtered: boolean },
      clients: number,
      r: LoadResult,
    ) => {
      const summary = summarize(r.latenciesMs);
      rows.push({ scenario: s.scenario, query: s.query, filtered: s.filtered, clients, result: r, summary });
      log(
        `${s.scenario} x${clients}: ${r.requests} req, ${r.errors} errors, ${r.throughput.toFixed(0)} req/s, p50 ${fmt(summary.p50)} ms, p99 ${fmt(summary.p99)} ms`,
      );
      // Errors are wrong results; the run goes on so every query kind is still measured and shown.
      failures.check(
        r.errors === 0 && !r.truncated,
        () =>
          `${s.scenario} x${clients}: ${r.errors} errors${r.truncated ? ' (truncated)' : ''}: ${r.errorSamples.join(' | ')}`,
      );
    };
    const all = [
      {
        s: { scenario: 'baseline', query: '{ __typename } (HTTP + auth + GraphQL)', filtered: false },
        body: JSON.stringify({ query: '{ __typename }' }),
        check: { graphql: true, path: ['__typename'] },
      },
      ...scenarios.map((s) => ({ s, body: bodyOf(s), check: { graphql: true, path: ['search', 'edges'] } })),
      {
        s: { scenario: 'common+count', query: 'lorem (+ totalCount)', filtered: false },
        body: JSON.stringify({ query: COUNT_QUERY, variables: { query: 'lorem' } }),
        check: { graphql: true, path: ['search', 'totalCount'] },
      },
      {
        s: { scenario: 'rare+count', query: 'zanzibar (+ totalCount)', filtered: false },
        body: JSON.stringify({ query: COUNT_QUERY, variables: { query: 'zanzibar' } }),
        check: { graphql: true, path: ['search', 'totalCount'] },
      },
    ];
    for (const pass of [
      { clients: CONCURRENCY, requests: REQUESTS, warmup: WARMUP },
      { clients: 1, requests: LOW_REQUESTS, warmup: Math.min(WARMUP, 20) },
    ]) {
      for (const { s, body, check } of all) {
        const r = await worker.run({
          name: s.scenario,
          url: gqlUrl,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          clientHeaders,
          body,
          concurrency: pass.clients,
          requests: pass.requests,
          warmup: pass.warmup,
          timeoutMs: 10_000,
          maxDurationMs: 300_000,
          check,
        });
        record(s, pass.clients, r);
      }
    }
    await worker.close();
    worker = null;

    // Indexing lag, at each rate.
    const lagRuns: {
      rate: number;
      lag: LagResult;
      indexed: Summary;
      probes: Summary;
      ack: Summary;
      notIndexed: number;
    }[] = [];
    for (const rate of LAG_RATES) {
      log(`lag: sending ${rate}/s for ${LAG_SECONDS} s`);
      const lag = await startLagDriver({
        url: gqlUrl,
        tokens: fx.tokens,
        channelIds: fx.publicChannelIds,
        rate,
        seconds: LAG_SECONDS,
        probeEvery: LAG_PROBE_EVERY,
        maxProbes: LAG_MAX_PROBES,
      });
      // Wait (bounded) for the worker to finish the tail before reading indexed_at.
      const deadline = performance.now() + 120_000;
      while (performance.now() < deadline && (await app.outbox.lag()).pending > 0)
        await new Promise((r) => setTimeout(r, 200));
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      let indexedLag: number[] = [];
      let notIndexed = 0;
      try {
        const ids = lag.sent.map((s) => s.id);
        const r = await pool.query<{ id: string; t: string }>(
          `SELECT message_id::text AS id, (extract(epoch FROM indexed_at) * 1000)::float8::text AS t FROM search_documents WHERE message_id = ANY($1::text[]::bigint[])`,
          [ids],
        );
        const at = new Map(r.rows.map((x) => [x.id, Number(x.t)]));
        // From commit (the acknowledgement) to indexed_at; a document the worker wrote before the
        // response reached the driver was searchable at the acknowledgement: lag 0.
        indexedLag = lag.sent.filter((s) => at.has(s.id)).map((s) => Math.max(0, at.get(s.id)! - s.ackEpochMs));
        notIndexed = lag.sent.length - indexedLag.length;
      } finally {
        await pool.end();
      }
      const run = {
        rate,
        lag,
        indexed: summarize(indexedLag),
        probes: summarize(lag.probes),
        ack: summarize(lag.ackLatencies),
        notIndexed,
      };
      lagRuns.push(run);
      failures.check(
        lag.errors === 0,
        () => `lag at ${rate}/s: ${lag.errors} send or probe errors: ${lag.errorSamples.join(' | ')}`,
      );
      failures.check(
        notIndexed === 0,
        `lag at ${rate}/s: ${notIndexed} of ${lag.sent.length} acknowledged messages never indexed (outbox drained or 120 s waited)`,
      );
      log(
        `lag ${rate}/s: achieved ${lag.achievedRate.toFixed(0)}/s, ack->indexed p99 ${fmt(run.indexed.p99)} ms, ack->found p99 ${fmt(run.probes.p99)} ms`,
      );
    }

    // Report
    const pgVersion = await (async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
      } finally {
        await c.end();
      }
    })();
    const cpu = cpus();
    const header = [
      `bench:search  ${started.toISOString()}`,
      `node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL ${pgVersion}`,
      `fixture: ${MESSAGES.toLocaleString('en')} messages, ${USERS} users, ${CHANNELS} channels (1 in 5 private, ~half the users removed); ` +
        `documents ${fx.counts.documents}, 'lorem' in ${fx.counts.lorem}, 'zanzibar' in ${fx.counts.zanzibar}, 'marmoset' in ${fx.counts.marmoset}`,
      `seed ${(fx.seedMs / 1000).toFixed(0)} s; reindex ${(fx.reindexMs / 1000).toFixed(0)} s (${Math.round(fx.reindexRate).toLocaleString('en')} messages/s); ` +
        `search_documents ${fx.tableSize}; indexes: ${fx.indexSizes}`,
      `server: buildApp in this process (NODE_ENV=production, inline outbox worker, poll ${config.outbox.pollMs} ms); load: keep-alive clients in a forked process, ` +
        `one seeded user per client, first: 20 with snippets; ${CONCURRENCY} clients: ${WARMUP} warm-up + ${REQUESTS} requests per query, then 1 client: ${LOW_REQUESTS}`,
    ].join('\n');
    const table = formatTable(
      [
        { title: 'query kind' },
        { title: 'query' },
        { title: 'filtered' },
        { title: 'clients', align: 'right' },
        { title: 'req/s', align: 'right' },
        { title: 'p50 ms', align: 'right' },
        { title: 'p90 ms', align: 'right' },
        { title: 'p99 ms', align: 'right' },
        { title: 'max ms', align: 'right' },
      ],
      rows.map((r) => [
        r.scenario,
        r.query,
        r.filtered ? 'yes' : '',
        String(r.clients),
        fmt(r.result.throughput, 0),
        fmt(r.summary.p50),
        fmt(r.summary.p90),
        fmt(r.summary.p99),
        fmt(r.summary.max),
      ]),
    );
    const filtered32 = rows.filter((r) => r.filtered && r.clients === CONCURRENCY);
    const worstFiltered = Math.max(...filtered32.map((r) => r.summary.p99));
    const filtered1 = rows.filter((r) => r.filtered && r.clients === 1);
    const worstFiltered1 = Math.max(...filtered1.map((r) => r.summary.p99));
    const lines = [
      table,
      '',
      `filtered searches, worst p99: ${fmt(worstFiltered)} ms at ${CONCURRENCY} clients, ${fmt(worstFiltered1)} ms at 1 client (goal < ${GOAL_FILTERED_P99_MS} ms: ` +
        `${worstFiltered < GOAL_FILTERED_P99_MS ? 'PASS' : 'MISS'} at ${CONCURRENCY}, ${worstFiltered1 < GOAL_FILTERED_P99_MS ? 'PASS' : 'MISS'} at 1)`,
    ];
    for (const { rate, lag, indexed, probes, ack, notIndexed } of lagRuns) {
      lines.push(
        `indexing lag at ${rate}/s for ${LAG_SECONDS} s: sent ${lag.sent.length} (achieved ${lag.achievedRate.toFixed(0)}/s, ${lag.errors} errors), ` +
          `sendMessage p50 ${fmt(ack.p50)} ms p99 ${fmt(ack.p99)} ms`,
        `  ack -> indexed (all ${indexed.count} messages, ${notIndexed} not indexed): p50 ${fmt(indexed.p50)} ms, p90 ${fmt(indexed.p90)} ms, p99 ${fmt(indexed.p99)} ms, max ${fmt(indexed.max)} ms`,
        `  ack -> found by Query.search (${lag.probes.length} probes, ${lag.probeMisses} not found in 10 s): p50 ${fmt(probes.p50)} ms, p90 ${fmt(probes.p90)} ms, p99 ${fmt(probes.p99)} ms, max ${fmt(probes.max)} ms ` +
          `(goal p99 < ${GOAL_LAG_P99_MS} ms: ${probes.p99 < GOAL_LAG_P99_MS && lag.probeMisses === 0 ? 'PASS' : 'MISS'})`,
      );
      if (lag.errorSamples.length) lines.push(`  lag driver errors: ${lag.errorSamples.join(' | ')}`);
    }
    const text = `${header}\n\n${lines.join('\n')}\n`;
    process.stdout.write(`\n${text}`);
    try {
      mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
      const file = new URL(`./results/search-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
      writeFileSync(
        file,
        JSON.stringify(
          {
            header,
            rows: rows.map((r) => ({ ...r, result: { ...r.result } })),
            lag: lagRuns.map((l) => ({
              rate: l.rate,
              achievedRate: l.lag.achievedRate,
              errors: l.lag.errors,
              indexed: l.indexed,
              probes: l.probes,
              ack: l.ack,
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
    if (err instanceof BenchAbort) log(`ABORT: ${err.message}`);
    else log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    failures.add(`aborted: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await worker?.close().catch(() => {});
    await app?.stop().catch((e: unknown) => log(`app.stop failed: ${(e as Error).message}`));
    if (scratch && !process.env.BENCH_KEEP_DB && !REUSE)
      await dropScratch(SCRATCH_DB).catch((e: unknown) => log(`could not drop ${SCRATCH_DB}: ${(e as Error).message}`));
    clearTimeout(watchdog);
  }
  failures.report();
  if (failed) process.exitCode = 1;
}

if (
  !process.argv.includes('--lag-driver') &&
  process.argv[1] &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  await main();
}
