/**
 * Bootstrap benchmark (`npm run bench:bootstrap`): what a client's first screen costs in a big
 * workspace, the working set (`Query.bootstrap`) against the naive full state, same run.
 *
 * PostgreSQL only. With DATABASE_URL set, that (empty) database is used; otherwise the scratch
 * database `chat_bench_bootstrap` on postgresql://postgres@127.0.0.1:5432 is dropped, recreated,
 * and dropped again at the end (BENCH_KEEP_DB=1 keeps it).
 *
 * Fixture (bulk SQL through bench/seed.ts and the project's database port, no API calls):
 *   one workspace of BENCH_USERS users (32,000); BENCH_WORKSPACE_CHANNELS public channels (1,000),
 *   #general holding everyone; each of the BENCH_MEASURED measured users (32, the ones with
 *   session tokens) is a member of BENCH_CHANNELS channels (200: #general and 199 others); every
 *   other user joins BENCH_JOINS (8) random channels besides #general. BENCH_MESSAGES_PER_CHANNEL
 *   (20) messages per channel, ~10% mentioning someone; each measured user has BENCH_DMS (20)
 *   direct messages and BENCH_GROUP_DMS (5) group DMs of three, BENCH_DM_MESSAGES (5) messages
 *   each, and is behind in some channels and DMs (unread and mention counts are not all zero).
 *
 * Measured, over real HTTP (the app is buildApp in this process, the load comes from a forked
 * process, bench/lib/http-load.ts; each client is a different measured user):
 *   baseline    `{ __typename }` (HTTP + auth + GraphQL), for scale
 *   bootstrap   the `Bootstrap` operation of schema/operations (the document a client sends):
 *               response bytes and latency at BENCH_CONCURRENCY (32) and BENCH_LOW_CONCURRENCY (1)
 *               clients; SQL statements one bootstrap costs (the app's database adapter counts
 *               them), for a measured user and for a user in a single channel
 *   naive       the full state without a working set, for BENCH_NAIVE_USERS (1) measured user,
 *               one request after the other as a client follows cursors: the same channel and DM
 *               list (the bootstrap), every member of each of its channels (channelMembers, pages
 *               of 100) and the whole directory (workspaceMembers, pages of 100): requests, bytes
 *               (also gzipped, for a client that would ask for it) and wall time
 *
 * Goals (issue 10): naive bytes / bootstrap bytes >= 100x; bootstrap p99 is reported (no goal).
 * Wrong results fail the run (exit code 1, listed after the report): a bootstrap that does not
 * hold the fixture's channels, DMs and unread counts, request errors, a crawl that misses members.
 *
 * Knobs (env): BENCH_USERS, BENCH_WORKSPACE_CHANNELS, BENCH_CHANNELS, BENCH_JOINS, BENCH_MEASURED,
 * BENCH_MESSAGES_PER_CHANNEL, BENCH_DMS, BENCH_GROUP_DMS, BENCH_DM_MESSAGES, BENCH_REQUESTS (1000),
 * BENCH_WARMUP (100), BENCH_CONCURRENCY (32), BENCH_LOW_CONCURRENCY (1), BENCH_LOW_REQUESTS (300),
 * BENCH_NAIVE_USERS (1), BENCH_KEEP_DB, BENCH_TIMEOUT_S (1200, then the run aborts).
 */
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { print } from 'graphql';
import { createDatabase, type Database } from '../src/infra/db/database.js';
import { migrate } from '../src/infra/db/migrator.js';
import { createSnowflake, decodeSnowflake } from '../src/infra/ids/snowflake.js';
import {
  BootstrapDocument,
  ChannelMembersDocument,
  WorkspaceMembersDocument,
  type BootstrapQuery,
  type ChannelMembersQuery,
  type WorkspaceMembersQuery,
} from '../tests/generated/gql/graphql.js';
import { startLoadWorker, type LoadResult, type LoadWorker } from './lib/http-load.js';
import { fmt, fmtRatio, formatTable, ratio, summarize, type Summary } from './lib/stats.js';
import { createRandom, insertRows, loremText, seed } from './seed.js';
import { dropScratch, prepareDatabase } from './lib/scratch-db.js';
import { envInt } from './lib/env.js';
import { Failures } from './lib/failures.js';
import { benchConfig, startBenchApp, type BenchApp } from './lib/bench-app.js';
import { postGraphQL } from './lib/graphql-post.js';

const SCRATCH_DB = 'chat_bench_bootstrap';
const USERS = envInt('BENCH_USERS', 32_000);
const WORKSPACE_CHANNELS = envInt('BENCH_WORKSPACE_CHANNELS', 1_000);
const CHANNELS = envInt('BENCH_CHANNELS', 200);
const JOINS = envInt('BENCH_JOINS', 8, 0);
const MEASURED = envInt('BENCH_MEASURED', 32);
const MESSAGES_PER_CHANNEL = envInt('BENCH_MESSAGES_PER_CHANNEL', 20, 0);
const DMS = envInt('BENCH_DMS', 20, 0);
const GROUP_DMS = envInt('BENCH_GROUP_DMS', 5, 0);
const DM_MESSAGES = envInt('BENCH_DM_MESSAGES', 5, 0);
const REQUESTS = envInt('BENCH_REQUESTS', 1_000);
const WARMUP = envInt('BENCH_WARMUP', 100, 0);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 32);
const LOW_CONCURRENCY = envInt('BENCH_LOW_CONCURRENCY', 1);
const LOW_REQUESTS = envInt('BENCH_LOW_REQUESTS', 300);
const NAIVE_USERS = envInt('BENCH_NAIVE_USERS', 1);
const TIMEOUT_S = envInt('BENCH_TIMEOUT_S', 1_200);
/** The API's largest page (limits.maxPageSize): the naive client asks for full pages. */
const PAGE = 100;
const GOAL_BYTES_RATIO = 100;

const BOOTSTRAP = print(BootstrapDocument);
const CHANNEL_MEMBERS = print(ChannelMembersDocument);
const WORKSPACE_MEMBERS = print(WorkspaceMembersDocument);

const log = (msg: string) => process.stderr.write(`[bench:bootstrap] ${msg}\n`);

if (CHANNELS > WORKSPACE_CHANNELS) throw new RangeError('BENCH_CHANNELS must be <= BENCH_WORKSPACE_CHANNELS');
if (MEASURED + 2 > USERS) throw new RangeError('BENCH_USERS must exceed BENCH_MEASURED by at least 2');

// ---------------------------------------------------------------------------------------------
// Fixture

interface Expected {
  channels: number;
  directMessages: number;
  /** Channel id -> unread count, for the measured user's channels and DMs. */
  unread: Map<string, number>;
}

interface Fixture {
  workspaceId: string;
  tokens: string[];
  /** Per measured user (tokens[i]): what their bootstrap must hold. */
  expected: Expected[];
  /** A user in #general only, with a token (the statement count's small case). */
  smallToken: string;
  memberships: number;
  messages: number;
  seedMs: number;
}

/** `count` distinct integers from [lo, hi), by a seeded generator. */
function pick(random: () => number, count: number, lo: number, hi: number, not?: ReadonlySet<number>): number[] {
  const out = new Set<number>();
  while (out.size < count) {
    const v = lo + Math.floor(random() * (hi - lo));
    if (!not?.has(v)) out.add(v);
  }
  return [...out];
}

async function buildFixture(db: Database): Promise<Fixture> {
  const t0 = performance.now();
  const random = createRandom(7);
  // Who is in which channel: #general everyone; a measured user CHANNELS - 1 others; everyone else
  // JOINS others. The last user with a token is the small case: #general only.
  const members: number[][] = Array.from({ length: WORKSPACE_CHANNELS }, () => []);
  for (let u = 0; u < USERS; u++) {
    members[0]!.push(u);
    const others = u < MEASURED ? CHANNELS - 1 : u === MEASURED ? 0 : Math.min(JOINS, WORKSPACE_CHANNELS - 1);
    for (const c of pick(random, others, 1, WORKSPACE_CHANNELS)) members[c]!.push(u);
  }
  const s = await seed(db, {
    users: USERS,
    channels: WORKSPACE_CHANNELS,
    messages: MESSAGES_PER_CHANNEL * WORKSPACE_CHANNELS,
    tokenUsers: MEASURED + 1,
    channelMembers: (c) => members[c]!,
    spreadDays: 30,
    onProgress: (m) => log(`seed: ${m}`),
  });
  const memberships = members.reduce((n, m) => n + m.length, 0);
  const measuredChannels: number[][] = Array.from({ length: MEASURED }, () => []);
  members.forEach((list, c) => {
    for (const u of list) if (u < MEASURED) measuredChannels[u]!.push(c);
  });

  // Direct messages and group DMs of the measured users, with messages; ids from a generator on
  // its own worker walking from 10 minutes ago (newer than the seed's, still in the past).
  let clock = Date.now() - 600_000;
  const ids = createSnowflake(1022, () => Math.floor(clock));
  const next = () => {
    clock += 1;
    return ids.next();
  };
  const dm = { id: [] as bigint[], key: [] as string[], creator: [] as string[], count: [] as number[] };
  const dmMember = { channel: [] as bigint[], user: [] as string[] };
  const msg = { id: [] as bigint[], channel: [] as bigint[], author: [] as string[], text: [] as string[] };
  const msgSeq: number[] = [];
  const dmLast: { seq: number; id: bigint | null }[] = [];
  /** Per DM: its members (user indexes) and the ids of its messages, in order. */
  const dmOf: { users: number[]; messages: bigint[] }[] = [];
  const seen = new Set<string>();
  for (let u = 0; u < MEASURED; u++) {
    const groups = [
      ...Array.from({ length: DMS }, () => [u, ...pick(random, 1, MEASURED + 1, USERS)]),
      ...Array.from({ length: GROUP_DMS }, () => [u, ...pick(random, 2, MEASURED + 1, USERS)]),
    ];
    for (const g of groups) {
      const userIds = g.map((i) => BigInt(s.userIds[i]!)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const key = `${s.workspaceId}:${userIds.join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const channelId = next();
      dm.id.push(channelId);
      dm.key.push(key);
      dm.creator.push(s.userIds[u]!);
      dm.count.push(g.length);
      const messages: bigint[] = [];
      for (let k = 0; k < DM_MESSAGES; k++) {
        const id = next();
        messages.push(id);
        msg.id.push(id);
        msg.channel.push(channelId);
        msg.author.push(s.userIds[g[k % g.length]!]!);
        msg.text.push(loremText(random));
        msgSeq.push(k + 1);
      }
      for (const i of g) {
        dmMember.channel.push(channelId);
        dmMember.user.push(s.userIds[i]!);
      }
      dmLast.push({ seq: messages.length, id: messages.at(-1) ?? null });
      dmOf.push({ users: g, messages });
    }
  }

  const unread: Map<string, number>[] = Array.from({ length: MEASURED }, () => new Map<string, number>());
  await db.withSession(async (q) => {
    await q.exec('BEGIN');
    try {
      await insertRows(q, 'channels', [
        { name: 'id', type: 'bigint', values: dm.id },
        { name: 'workspace_id', type: 'bigint', values: dm.id.map(() => s.workspaceId) },
        { name: 'kind', type: '"ChannelKind"', values: dm.id.map(() => 'DIRECT') },
        { name: 'name', type: 'text', values: dm.id.map(() => '') },
        { name: 'dm_key', type: 'text', values: dm.key },
        { name: 'created_by_id', type: 'bigint', values: dm.creator },
        {
          name: 'created_at',
          type: 'timestamptz',
          values: dm.id.map((id) => new Date(decodeSnowflake(id).timestampMs)),
        },
        { name: 'member_count', type: 'integer', values: dm.count },
        { name: 'last_seq', type: 'bigint', values: dmLast.map((l) => l.seq) },
        { name: 'last_message_id', type: 'bigint', values: dmLast.map((l) => l.id) },
      ]);
      await insertRows(q, 'channel_members', [
        { name: 'channel_id', type: 'bigint', values: dmMember.channel },
        { name: 'user_id', type: 'bigint', values: dmMember.user },
      ]);
      await insertRows(q, 'messages', [
        { name: 'id', type: 'bigint', values: msg.id },
        { name: 'channel_id', type: 'bigint', values: msg.channel },
        { name: 'author_id', type: 'bigint', values: msg.author },
        { name: 'text', type: 'text', values: msg.text },
        { name: 'seq', type: 'bigint', values: msgSeq },
        { name: 'listed', type: 'boolean', values: msg.id.map(() => true) },
        {
          name: 'created_at',
          type: 'timestamptz',
          values: msg.id.map((id) => new Date(decodeSnowflake(id).timestampMs)),
        },
      ]);

      // Read positions of the measured users: the seed read everything; about a third of their
      // channels and DMs are 1 to 10 messages behind, one in five of those with a mention.
      const channelRows = await q.query<{ id: string; last_seq: string }>(
        'SELECT id::text AS id, last_seq::text AS last_seq FROM channels WHERE workspace_id = $1',
        [s.workspaceId],
      );
      const lastSeq = new Map(channelRows.map((r) => [r.id, Number(r.last_seq)]));
      const rc: string[] = [];
      const ru: string[] = [];
      const rseq: number[] = [];
      const rmention: number[] = [];
      const behind = (u: number, channelId: string) => {
        const last = lastSeq.get(channelId) ?? 0;
        const k = random() < 0.35 ? Math.min(last, 1 + Math.floor(random() * 10)) : 0;
        unread[u]!.set(channelId, k);
        if (k === 0) return;
        rc.push(channelId);
        ru.push(s.userIds[u]!);
        rseq.push(last - k);
        rmention.push(random() < 0.2 ? 1 : 0);
      };
      for (let u = 0; u < MEASURED; u++) for (const c of measuredChannels[u]!) behind(u, s.channelIds[c]!);
      dmOf.forEach((d, i) => {
        const u = d.users[0]!; // the measured user who opened it
        const channelId = dm.id[i]!.toString();
        behind(u, channelId);
      });
      // DM members who are not measured have read everything.
      await q.query(
        `UPDATE channel_members cm SET last_read_seq = c.last_seq, last_read_message_id = c.last_message_id
           FROM channels c WHERE c.id = cm.channel_id AND c.kind = 'DIRECT' AND c.workspace_id = $1`,
        [s.workspaceId],
      );
      await q.query(
        `UPDATE channel_members cm SET last_read_seq = v.seq, mention_count = v.mentions,
                last_read_message_id = (SELECT m.id FROM messages m WHERE m.channel_id = v.c AND m.seq = v.seq AND m.listed)
           FROM unnest($1::text[]::bigint[], $2::text[]::bigint[], $3::text[]::bigint[], $4::text[]::int[])
                AS v(c, u, seq, mentions)
          WHERE cm.channel_id = v.c AND cm.user_id = v.u`,
        [rc, ru, rseq.map(String), rmention.map(String)],
      );
      await q.exec('COMMIT');
    } catch (err) {
      await q.exec('ROLLBACK').catch(() => {});
      throw err;
    }
  });
  log(`${dm.id.length} direct messages (${msg.id.length} messages); read positions set`);
  await db.withSession((q) => q.exec('VACUUM ANALYZE'));

  const dmsPerUser = Array.from({ length: MEASURED }, (_, u) => dmOf.filter((d) => d.users.includes(u)).length);
  return {
    workspaceId: s.workspaceId,
    tokens: s.tokens.slice(0, MEASURED).map((t) => t.token),
    smallToken: s.tokens[MEASURED]!.token,
    expected: Array.from({ length: MEASURED }, (_, u) => ({
      channels: measuredChannels[u]!.length,
      directMessages: dmsPerUser[u]!,
      unread: unread[u]!,
    })),
    memberships: memberships + dmMember.channel.length,
    messages: MESSAGES_PER_CHANNEL * WORKSPACE_CHANNELS + msg.id.length,
    seedMs: performance.now() - t0,
  };
}

// ---------------------------------------------------------------------------------------------
// Checks and the naive client

type Boot = BootstrapQuery['bootstrap'];

/** The bootstrap of measured user `u` holds exactly the fixture's channels, DMs and unread counts. */
function checkBootstrap(b: Boot, exp: Expected, who: string, failures: Failures): void {
  failures.check(
    b.channels.length === exp.channels,
    () => `${who}: bootstrap has ${b.channels.length} channels, expected ${exp.channels}`,
  );
  failures.check(
    b.directMessages.length === exp.directMessages,
    () => `${who}: bootstrap has ${b.directMessages.length} DMs, expected ${exp.directMessages}`,
  );
  const wrong = [...b.channels, ...b.directMessages].filter((c) => exp.unread.get(c.id) !== c.unreadCount);
  failures.check(
    wrong.length === 0,
    () => `${who}: ${wrong.length} unread counts differ from the fixture, e.g. ${JSON.stringify(wrong[0])}`,
  );
  const noPreview = b.directMessages.filter((d) => !d.lastMessage);
  failures.check(
    DM_MESSAGES === 0 || noPreview.length === 0,
    () => `${who}: ${noPreview.length} DMs without a last-message preview`,
  );
  const named = new Set(b.people.map((p) => p.id));
  const missing = b.directMessages.flatMap((d) => d.directMembers.map((m) => m.id)).filter((id) => !named.has(id));
  failures.check(missing.length === 0, () => `${who}: ${missing.length} DM members not in people`);
  failures.check(
    b.presence.length === b.people.length,
    () => `${who}: ${b.presence.length} presence entries for ${b.people.length} people`,
  );
}

interface NaiveRun {
  requests: number;
  bytes: number;
  gzipBytes: number;
  wallMs: number;
  latenciesMs: number[];
  members: number;
  directory: number;
  bootstrapBytes: number;
}

/**
 * The full state without a working set, as a client fetches it: its channel and DM list (the
 * bootstrap), then every member of each of its channels and the whole directory, page after page.
 */
async function naiveFullState(url: string, token: string, workspaceId: string, failures: Failures): Promise<NaiveRun> {
  const latencies: number[] = [];
  let bytes = 0;
  let gzipBytes = 0;
  const t0 = performance.now();
  const post = async <T>(query: string, variables: Record<string, unknown>) => {
    const r = await postGraphQL<T>(url, token, query, variables);
    latencies.push(r.ms);
    bytes += r.bytes;
    gzipBytes += gzipSync(JSON.stringify({ data: r.data })).length;
    return r;
  };
  const boot = await post<BootstrapQuery>(BOOTSTRAP, {});
  let members = 0;
  for (const c of boot.data.bootstrap.channels) {
    let after: string | null = null;
    let seen = 0;
    for (;;) {
      const page: ChannelMembersQuery['channelMembers'] = (
        await post<ChannelMembersQuery>(CHANNEL_MEMBERS, { channelId: c.id, first: PAGE, after })
      ).data.channelMembers;
      seen += page.edges.length;
      if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) break;
      after = page.pageInfo.endCursor;
    }
    failures.check(seen === c.memberCount, () => `naive: channel ${c.id} listed ${seen} members of ${c.memberCount}`);
    members += seen;
  }
  let directory = 0;
  let after: string | null = null;
  for (;;) {
    const page: WorkspaceMembersQuery['workspaceMembers'] = (
      await post<WorkspaceMembersQuery>(WORKSPACE_MEMBERS, { workspaceId, first: PAGE, after })
    ).data.workspaceMembers;
    directory += page.edges.length;
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) break;
    after = page.pageInfo.endCursor;
  }
  failures.check(directory === USERS, () => `naive: the directory listed ${directory} of ${USERS} users`);
  return {
    requests: latencies.length,
    bytes,
    gzipBytes,
    wallMs: performance.now() - t0,
    latenciesMs: latencies,
    members,
    directory,
    bootstrapBytes: boot.bytes,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  scenario: string;
  clients: number;
  result: LoadResult;
  summary: Summary;
}

const pass = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

interface Measured {
  rows: Row[];
  bootBytes: { min: number; mean: number; max: number; gzip: number; user0: number };
  statements: { measured: number; small: number; sql: string[] };
  naive: NaiveRun[];
}

function report(m: Measured): string {
  const table = formatTable(
    [
      { title: 'scenario' },
      { title: 'clients', align: 'right' },
      { title: 'requests', align: 'right' },
      { title: 'errors', align: 'right' },
      { title: 'req/s', align: 'right' },
      { title: 'bytes/resp', align: 'right' },
      { title: 'p50 ms', align: 'right' },
      { title: 'p95 ms', align: 'right' },
      { title: 'p99 ms', align: 'right' },
      { title: 'max ms', align: 'right' },
    ],
    m.rows.map((r) => [
      r.scenario,
      String(r.clients),
      String(r.result.requests),
      String(r.result.errors),
      fmt(r.result.throughput, 0),
      fmt(r.result.bytesReceived / Math.max(1, r.result.requests), 0),
      fmt(r.summary.p50),
      fmt(r.summary.p95),
      fmt(r.summary.p99),
      fmt(r.summary.max),
    ]),
  );
  const lines = [table, ''];
  const b = m.bootBytes;
  lines.push(
    `bootstrap response: ${b.user0} bytes for user 1 (${kb(b.user0)}; gzip ${b.gzip}); over the ${MEASURED} measured users min ${b.min}, mean ${b.mean.toFixed(0)}, max ${b.max}`,
  );
  lines.push(
    `bootstrap SQL statements: ${m.statements.measured} for a user in ${CHANNELS} channels + ${DMS + GROUP_DMS} DMs, ${m.statements.small} for a user in 1 channel`,
  );
  for (const [i, n] of m.naive.entries()) {
    const s = summarize(n.latenciesMs);
    const r = ratio(n.bytes, n.bootstrapBytes);
    lines.push(
      `naive full state (user ${i + 1}): ${n.requests} requests (1 bootstrap + channelMembers pages for ${n.members} memberships + workspaceMembers pages for ${n.directory} users), ` +
        `${n.bytes} bytes (${(n.bytes / 2 ** 20).toFixed(1)} MiB; gzip ${(n.gzipBytes / 2 ** 20).toFixed(1)} MiB) in ${(n.wallMs / 1000).toFixed(1)} s ` +
        `(per request p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms)`,
    );
    lines.push(
      `bytes, naive / bootstrap: ${fmtRatio(r, 0)} (goal >= ${GOAL_BYTES_RATIO}x: ${pass(r >= GOAL_BYTES_RATIO)}); ` +
        `gzip ${fmtRatio(ratio(n.gzipBytes, b.gzip), 0)}; time, naive crawl / bootstrap p50 at 1 client: ` +
        `${fmtRatio(ratio(n.wallMs, m.rows.find((x) => x.scenario === 'bootstrap' && x.clients === LOW_CONCURRENCY)?.summary.p50 ?? NaN), 0)}`,
    );
  }
  for (const clients of [CONCURRENCY, LOW_CONCURRENCY]) {
    const boot = m.rows.find((x) => x.scenario === 'bootstrap' && x.clients === clients);
    const floor = m.rows.find((x) => x.scenario === 'baseline' && x.clients === clients);
    if (boot) {
      lines.push(
        `bootstrap p99 at ${clients} client${clients === 1 ? '' : 's'}: ${fmt(boot.summary.p99)} ms (p50 ${fmt(boot.summary.p50)}, p95 ${fmt(boot.summary.p95)}; ` +
          `reported, no goal set; ${fmtRatio(ratio(boot.summary.p99, floor?.summary.p99 ?? NaN))} the { __typename } p99)`,
      );
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = new Date();
  const watchdog = setTimeout(() => {
    log(`ABORT: still running after ${TIMEOUT_S} s (BENCH_TIMEOUT_S)`);
    process.exit(2);
  }, TIMEOUT_S * 1000);
  watchdog.unref();

  const { url, scratch } = await prepareDatabase(SCRATCH_DB);
  log(`database: ${scratch ? `${SCRATCH_DB} (scratch, recreated)` : 'DATABASE_URL'}`);
  let app: BenchApp | null = null;
  let worker: LoadWorker | null = null;
  const failures = new Failures('bench:bootstrap');
  const rows: Row[] = [];
  try {
    // 1. Fixture, through the project's own database port and migrator.
    const seedDb = await createDatabase({ kind: 'postgres', url, poolSize: 2 });
    let fx: Fixture;
    try {
      await migrate(seedDb);
      fx = await buildFixture(seedDb);
    } finally {
      await seedDb.close();
    }
    log(
      `fixture ready in ${(fx.seedMs / 1000).toFixed(1)} s: ${USERS} users, ${WORKSPACE_CHANNELS} channels, ${fx.memberships} memberships, ${fx.messages} messages`,
    );

    // 2. The app, in this process.
    const config = benchConfig(url);
    const started_ = await startBenchApp(config);
    app = started_.app;
    const gqlUrl = started_.url;
    log(`app listening at ${gqlUrl}`);

    // 3. Every measured user's bootstrap, checked against the fixture; its size.
    const sizes: number[] = [];
    let gzip0 = 0;
    for (const [u, token] of fx.tokens.entries()) {
      const r = await postGraphQL<BootstrapQuery>(gqlUrl, token, BOOTSTRAP);
      checkBootstrap(r.data.bootstrap, fx.expected[u]!, `user ${u + 1}`, failures);
      sizes.push(r.bytes);
      if (u === 0) gzip0 = gzipSync(JSON.stringify({ data: r.data })).length;
    }
    if (failures.failed) throw new Error('the bootstrap does not hold the fixture (see the failures)');
    log('sanity checks passed');

    // 4. Statements of one bootstrap (warm: the session token and the app's caches as under load;
    // the profile cache is expired first so the people are read).
    const count = async (token: string) => {
      await postGraphQL(gqlUrl, token, BOOTSTRAP);
      await new Promise((r) => setTimeout(r, 5_500));
      return app!.db.statements.during(() => postGraphQL(gqlUrl, token, BOOTSTRAP));
    };
    const big = await count(fx.tokens[0]!);
    const small = await count(fx.smallToken);
    log(`statements: ${big.count} (${CHANNELS} channels), ${small.count} (1 channel)`);
    for (const sql of big.sql) log(`  ${sql.replace(/\s+/g, ' ').slice(0, 160)}`);

    // 5. Load: the floor and the bootstrap, at 32 clients then 1.
    worker = await startLoadWorker();
    const clientHeaders = fx.tokens.map((t) => ({ authorization: `Bearer ${t}` }));
    const bodies = {
      baseline: JSON.stringify({ query: '{ __typename }' }),
      bootstrap: JSON.stringify({ query: BOOTSTRAP, operationName: 'Bootstrap' }),
    };
    for (const p of [
      { clients: CONCURRENCY, requests: REQUESTS, warmup: WARMUP },
      { clients: LOW_CONCURRENCY, requests: LOW_REQUESTS, warmup: Math.min(WARMUP, 50) },
    ]) {
      for (const scenario of ['baseline', 'bootstrap'] as const) {
        const r = await worker.run({
          name: scenario,
          url: gqlUrl,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          clientHeaders,
          concurrency: p.clients,
          requests: p.requests,
          warmup: p.warmup,
          timeoutMs: 30_000,
          maxDurationMs: 300_000,
          body: bodies[scenario],
          check: { graphql: true, path: scenario === 'baseline' ? ['__typename'] : ['bootstrap', 'channels'] },
        });
        const summary = summarize(r.latenciesMs);
        rows.push({ scenario, clients: p.clients, result: r, summary });
        log(
          `${scenario} x${p.clients}: ${r.requests} requests, ${r.errors} errors, ${r.throughput.toFixed(0)} req/s, p50 ${fmt(summary.p50)} ms, p99 ${fmt(summary.p99)} ms`,
        );
        failures.check(
          r.errors === 0 && !r.truncated,
          () =>
            `${scenario} x${p.clients}: ${r.errors} errors${r.truncated ? ' (truncated)' : ''}: ${r.errorSamples.join(' | ')}`,
        );
      }
    }
    await worker.close();
    worker = null;

    // 6. The naive full state, one request after the other.
    const naive: NaiveRun[] = [];
    for (let u = 0; u < Math.min(NAIVE_USERS, fx.tokens.length); u++) {
      log(`naive full state for user ${u + 1} ...`);
      const n = await naiveFullState(gqlUrl, fx.tokens[u]!, fx.workspaceId, failures);
      log(`naive: ${n.requests} requests, ${n.bytes} bytes, ${(n.wallMs / 1000).toFixed(1)} s`);
      naive.push(n);
    }

    // 7. Report.
    const pgVersion =
      (await app.db.withSession((q) => q.query<{ v: string }>("SELECT current_setting('server_version') AS v")))[0]
        ?.v ?? '?';
    const cpu = cpus();
    const header = [
      `bench:bootstrap  ${started.toISOString()}`,
      `node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL ${pgVersion}`,
      `fixture (${(fx.seedMs / 1000).toFixed(0)} s): ${USERS} users, ${WORKSPACE_CHANNELS} public channels (#general: everyone), ${fx.memberships} memberships, ${fx.messages} messages; ` +
        `${MEASURED} measured users in ${CHANNELS} channels + ${DMS} DMs + ${GROUP_DMS} group DMs each, others in ${JOINS} channels + #general`,
      `server: buildApp in the bench process (NODE_ENV=production); load: keep-alive clients in a forked process, each a different measured user; ` +
        `${CONCURRENCY} clients: ${WARMUP} warm-up + ${REQUESTS} requests; ${LOW_CONCURRENCY}: ${Math.min(WARMUP, 50)} + ${LOW_REQUESTS}; naive: sequential requests from the bench process, pages of ${PAGE}`,
    ].join('\n');
    const bootBytes = {
      min: Math.min(...sizes),
      max: Math.max(...sizes),
      mean: sizes.reduce((a, b) => a + b, 0) / sizes.length,
      gzip: gzip0,
      user0: sizes[0]!,
    };
    const measured: Measured = {
      rows,
      bootBytes,
      statements: { measured: big.count, small: small.count, sql: big.sql },
      naive,
    };
    const text = `${header}\n\n${report(measured)}\n`;
    process.stdout.write(`\n${text}`);
    try {
      mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
      const file = new URL(`./results/bootstrap-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
      writeFileSync(
        file,
        JSON.stringify(
          {
            started: started.toISOString(),
            header,
            bootBytes,
            statements: measured.statements,
            naive: naive.map(({ latenciesMs: _l, ...n }) => n),
            rows: rows.map((r) => ({
              scenario: r.scenario,
              clients: r.clients,
              ...r.result,
              latenciesMs: undefined,
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
    log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    failures.add(`aborted: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await worker?.close().catch(() => {});
    await app?.stop().catch((e: unknown) => log(`app.stop failed: ${(e as Error).message}`));
    if (scratch && !process.env.BENCH_KEEP_DB) {
      await dropScratch(SCRATCH_DB).catch((e: unknown) => log(`could not drop ${SCRATCH_DB}: ${(e as Error).message}`));
    }
    clearTimeout(watchdog);
  }
  failures.report();
}

await main();
