/**
 * Hot-statement benchmark (`npm run bench:send-path`): do the hot statements of a send and of a
 * history read cost the gateway less through node-postgres directly than through Prisma?
 *
 * PostgreSQL only. With DATABASE_URL set, that (empty) database is used; otherwise the scratch
 * database `chat_bench_send_path` on postgresql://postgres@127.0.0.1:5432 is dropped, recreated,
 * migrated, and dropped again at the end (BENCH_KEEP_DB=1 keeps it). Fixture (bulk SQL through
 * bench/seed.ts): one workspace, one public channel of BENCH_MEMBERS members (default 10,000) and
 * BENCH_MESSAGES messages (default 20,000).
 *
 * Statements (the app's own builders, so every variant sends the identical SQL text and values):
 *   send    sendTopLevelSql (src/domain/messages/send.writes.ts): a top-level message without
 *           files or mentions, the one statement a plain sendMessage writes; every call a new id,
 *           a client nonce, and the next of the channel's members as author
 *   access  accessChannelSql (src/domain/channels/channels.access.ts): the channel + membership
 *           read the send does first (one statement)
 *   facts   readFactsSql (same file): a history read's access check (requireReadable), one pair
 *   newest  newestPagesSql (src/domain/messages/history.service.ts): a channel's newest page of 50
 *           (when the channel's cache does not have it)
 *   page    historyPageSql (same file): a page of 50 older than a cursor, the cursor walking over
 *           the channel's messages (a deep page, never cached)
 *   profiles  profilesSql (src/domain/users/users.service.ts): a page's 10 authors. Variants A and
 *           C run the Prisma model query the service ran before (`user.findMany`, password hash
 *           omitted), B the raw statement that replaced it
 *   reactions, mentions  reactionsSql / mentionsSql (src/domain/messages/page-joins.ts): the
 *           reactions (3 each) and mentions (1 each, and those the seed wrote) of a page of 50 messages. Variants A and C
 *           run the Prisma model queries the loaders ran before, B the raw statements
 *
 * BENCH_STATEMENTS (comma-separated, default all) picks which of these run.
 *
 * Variants, all in this process, same pool size (BENCH_POOL, default 10, the app's default):
 *   A  prisma        `prisma.$queryRaw(sql)` on the app's own Database object (createDatabase:
 *                    PrismaPg over a pg.Pool, statement counter included): how the service ran
 *                    every statement when this bench was written
 *   B  pg            `pool.query({ name, text: sql.text, values: sql.values })` on a plain
 *                    pg.Pool: a named (server-side prepared) statement; int8 parsed to bigint, as
 *                    Prisma returns it. What the send statement now runs through on PostgreSQL
 *                    (Database.rawQuery in src/infra/db/database.ts), after this bench measured it;
 *                    the read path's statements too, since the second measurement
 *   C  prisma+named  Prisma again, with PrismaPg's `statementNameGenerator` (its own pool): is it
 *                    the prepared statement or Prisma's client-side work that makes a difference?
 *
 * For each statement and each concurrency (1 and BENCH_CONCURRENCY, default 8 closed-loop
 * callers): one warm-up of BENCH_WARMUP calls per variant, then BENCH_ROUNDS (>= 3) interleaved
 * rounds A, B, C, A, B, C, ... of BENCH_CALLS calls each. Per variant: gateway CPU per call
 * (process.cpuUsage() user+system over the round / calls; the loop around the calls is the same
 * for every variant), calls/s, and latency p50/p99 of all calls of all rounds. The machine is
 * shared: read the ratios between variants of the same run, not the absolutes.
 *
 * Wrong results fail the run (exit code 1): a send that returns no sequence, an access read that
 * returns no membership, a page of the wrong size or types, missing profiles, the channel's
 * messages/sequence/outbox not equal to the seeded messages plus the sends made, or Prisma's
 * statement counter not counting variant A's calls.
 *
 * Knobs (env): BENCH_MEMBERS (10000), BENCH_MESSAGES (20000), BENCH_CALLS (2000), BENCH_ROUNDS (3),
 * BENCH_WARMUP (300), BENCH_CONCURRENCY (8), BENCH_POOL (10), BENCH_STATEMENTS (all),
 * BENCH_KEEP_DB, BENCH_TIMEOUT_S (1200).
 */
import { createHash } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient, type Prisma } from '../src/generated/prisma/client.js';
import { createDatabase, type Database } from '../src/infra/db/database.js';
import { migrate } from '../src/infra/db/migrator.js';
import { createSnowflake } from '../src/infra/ids/snowflake.js';
import { sendTopLevelSql } from '../src/domain/messages/send.writes.js';
import { accessChannelSql, readFactsSql } from '../src/domain/channels/channels.access.js';
import { historyPageSql, newestPagesSql } from '../src/domain/messages/history.service.js';
import { profilesSql } from '../src/domain/users/users.service.js';
import { mentionsSql, reactionsSql } from '../src/domain/messages/page-joins.js';
import { dropScratch, prepareDatabase } from './lib/scratch-db.js';
import { envInt } from './lib/env.js';
import { Failures } from './lib/failures.js';
import { fmt, fmtRatio, formatTable, ratio, summarize, type Summary } from './lib/stats.js';
import { seed } from './seed.js';

const SCRATCH_DB = 'chat_bench_send_path';
const MEMBERS = envInt('BENCH_MEMBERS', 10_000, 2);
const MESSAGES = envInt('BENCH_MESSAGES', 20_000, 200);
const CALLS = envInt('BENCH_CALLS', 2_000);
const ROUNDS = envInt('BENCH_ROUNDS', 3, 3);
const WARMUP = envInt('BENCH_WARMUP', 300);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 8);
const POOL = envInt('BENCH_POOL', 10);
const TIMEOUT_S = envInt('BENCH_TIMEOUT_S', 1_200);
/**
 * "pg clearly faster": at least this much less gateway CPU per call, and p99 not worse (within
 * SWITCH_P99_SLACK: p99 of a few thousand calls on a shared machine moves by that much between rounds).
 */
const SWITCH_CPU_RATIO = 1.3;
const SWITCH_P99_SLACK = 1.1;

const log = (msg: string) => process.stderr.write(`[bench:send-path] ${msg}\n`);

type VariantName = 'prisma' | 'pg' | 'prisma+named';
const VARIANTS: VariantName[] = ['prisma', 'pg', 'prisma+named'];
/** How many of the newest messages carry reactions and a mention (the page-join statements read them). */
const JOINED = 2_000;
const STATEMENTS = ['send', 'access', 'facts', 'newest', 'page', 'profiles', 'reactions', 'mentions'] as const;
type StatementName = (typeof STATEMENTS)[number];
const SELECTED: StatementName[] = (process.env.BENCH_STATEMENTS ?? STATEMENTS.join(','))
  .split(',')
  .map((x) => x.trim())
  .filter((x) => x !== '')
  .map((x) => {
    if (!(STATEMENTS as readonly string[]).includes(x)) throw new Error(`BENCH_STATEMENTS: unknown statement ${x}`);
    return x as StatementName;
  });

type Rows = Record<string, unknown>[];
/**
 * One call: the SQL (what B sends, and A and C through `$queryRaw`), or for a statement that Prisma
 * ran as a model query before, that query (A and C run it on their client instead).
 */
interface Call {
  sql: Prisma.Sql;
  viaModel?: (client: PrismaClient) => Promise<Rows>;
  check(rows: Rows): void;
}
/** One call of a statement through one variant; resolves to the rows, or throws. */
type Runner = (call: Call) => Promise<Rows>;

interface Round {
  calls: number;
  cpuUs: number;
  wallMs: number;
  latencies: number[];
}

interface Row {
  statement: StatementName;
  variant: VariantName;
  clients: number;
  calls: number;
  cpuUsPerCall: number;
  roundCpuUs: number[];
  callsPerS: number;
  summary: Summary;
}

/** A statement name for a SQL text: the same text always gets the same name (pg requires it). */
const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `s_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return name;
}

/** int8 as bigint (what Prisma's $queryRaw returns), every other type as pg parses it. */
const bigintTypes = new pg.TypeOverrides();
bigintTypes.setTypeParser(pg.types.builtins.INT8, (v: string) => BigInt(v));

/** `calls` calls of `make()` through `run`, from `clients` closed-loop callers. */
async function runRound(run: Runner, make: (i: number) => Call, calls: number, clients: number): Promise<Round> {
  const latencies = new Array<number>(calls);
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const caller = async () => {
    for (let i = next++; i < calls; i = next++) {
      const s = performance.now();
      const call = make(i);
      const rows = await run(call);
      latencies[i] = performance.now() - s;
      call.check(rows);
    }
  };
  await Promise.all(Array.from({ length: clients }, caller));
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { calls, cpuUs: cpu.user + cpu.system, wallMs, latencies };
}

function report(rows: Row[]): string {
  const find = (s: StatementName, v: VariantName, c: number) =>
    rows.find((r) => r.statement === s && r.variant === v && r.clients === c);
  const table = formatTable(
    [
      { title: 'statement' },
      { title: 'variant' },
      { title: 'clients', align: 'right' },
      { title: 'calls', align: 'right' },
      { title: 'CPU µs/call', align: 'right' },
      { title: 'per round', align: 'right' },
      { title: 'calls/s', align: 'right' },
      { title: 'p50 ms', align: 'right' },
      { title: 'p99 ms', align: 'right' },
      { title: 'CPU vs A', align: 'right' },
      { title: 'calls/s vs A', align: 'right' },
      { title: 'p99 vs A', align: 'right' },
    ],
    rows.map((r) => {
      const a = find(r.statement, 'prisma', r.clients);
      return [
        r.statement,
        r.variant === 'prisma' ? 'A prisma' : r.variant === 'pg' ? 'B pg' : 'C prisma+named',
        String(r.clients),
        String(r.calls),
        fmt(r.cpuUsPerCall, 0),
        r.roundCpuUs.map((x) => x.toFixed(0)).join('/'),
        fmt(r.callsPerS, 0),
        fmt(r.summary.p50),
        fmt(r.summary.p99),
        a && r.variant !== 'prisma' ? fmtRatio(ratio(r.cpuUsPerCall, a.cpuUsPerCall)) : '',
        a && r.variant !== 'prisma' ? fmtRatio(ratio(r.callsPerS, a.callsPerS)) : '',
        a && r.variant !== 'prisma' ? fmtRatio(ratio(r.summary.p99, a.summary.p99)) : '',
      ];
    }),
  );
  const lines = [table, ''];
  for (const c of [...new Set(rows.map((r) => r.clients))]) {
    for (const s of STATEMENTS) {
      const a = find(s, 'prisma', c);
      const b = find(s, 'pg', c);
      if (!a || !b) continue;
      const cpu = ratio(a.cpuUsPerCall, b.cpuUsPerCall);
      const p99 = ratio(b.summary.p99, a.summary.p99);
      lines.push(
        `${s} x${c}: prisma / pg CPU per call ${fmtRatio(cpu)}; pg / prisma p99 ${fmtRatio(p99)}, calls/s ${fmtRatio(ratio(b.callsPerS, a.callsPerS))}`,
      );
    }
  }
  const verdict = (s: StatementName) =>
    [...new Set(rows.map((r) => r.clients))].every((c) => {
      const a = find(s, 'prisma', c);
      const b = find(s, 'pg', c);
      return (
        !!a &&
        !!b &&
        ratio(a.cpuUsPerCall, b.cpuUsPerCall) >= SWITCH_CPU_RATIO &&
        ratio(b.summary.p99, a.summary.p99) <= SWITCH_P99_SLACK
      );
    });
  const measured = STATEMENTS.filter((s) => rows.some((r) => r.statement === s));
  lines.push(
    `through pg clearly faster (>= ${SWITCH_CPU_RATIO}x less CPU per call and p99 at most ${SWITCH_P99_SLACK}x, at every concurrency): ` +
      measured.map((s) => `${s} ${verdict(s) ? 'YES' : 'NO'}`).join(', '),
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  const failures = new Failures('bench:send-path');
  const watchdog = setTimeout(() => {
    log(`timed out after ${TIMEOUT_S} s`);
    process.exit(2);
  }, TIMEOUT_S * 1000);
  watchdog.unref();

  const { url, scratch } = await prepareDatabase(SCRATCH_DB);
  let db: Database | null = null;
  let pool: pg.Pool | null = null;
  let namedPool: pg.Pool | null = null;
  let named: PrismaClient | null = null;
  const rows: Row[] = [];
  try {
    // 1. Fixture: the app's Database object (variant A runs on it), migrations, bulk seed.
    db = await createDatabase({ kind: 'postgres', url, poolSize: POOL });
    await migrate(db);
    const t0 = performance.now();
    const fx = await seed(db, { users: MEMBERS, channels: 1, messages: MESSAGES, tokenUsers: 1 });
    // The newest JOINED messages get 3 reactions (by 3 members) and a mention each, for the page-join statements.
    await db.withSession(async (s) => {
      await s.exec(`
        WITH newest AS (SELECT id, row_number() OVER (ORDER BY id DESC) AS n FROM messages WHERE listed ORDER BY id DESC LIMIT ${JOINED}),
             people AS (SELECT user_id, row_number() OVER (ORDER BY user_id) AS k FROM channel_members LIMIT 3)
        INSERT INTO reactions (message_id, user_id, emoji, created_at)
        SELECT newest.id, people.user_id, 'thumbsup', now() + (people.k || ' ms')::interval FROM newest CROSS JOIN people;
        INSERT INTO message_mentions (message_id, kind, user_id)
        SELECT id, 'USER', (SELECT min(user_id) FROM channel_members) FROM messages WHERE listed ORDER BY id DESC LIMIT ${JOINED};`);
    });
    await db.withSession((s) => s.exec('VACUUM ANALYZE'));
    log(`seeded ${MEMBERS} members and ${MESSAGES} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const channelId = BigInt(fx.channelIds[0] as string);
    const members = fx.userIds.map((u) => BigInt(u));

    // 2. The other variants' pools, same size.
    pool = new pg.Pool({ connectionString: url, max: POOL, types: bigintTypes });
    pool.on('error', (err) => log(`pg pool: ${err.message}`));
    namedPool = new pg.Pool({ connectionString: url, max: POOL });
    namedPool.on('error', (err) => log(`named pool: ${err.message}`));
    named = new PrismaClient({
      adapter: new PrismaPg(namedPool, { statementNameGenerator: (q) => statementName(q.sql) }),
    });
    const prisma = db.prisma;
    const namedPrisma = named;
    const pgPool = pool;
    const runners: Record<VariantName, Runner> = {
      prisma: (call) => call.viaModel?.(prisma) ?? prisma.$queryRaw<Rows>(call.sql),
      pg: async ({ sql }) =>
        (
          await pgPool.query<Record<string, unknown>>({
            name: statementName(sql.text),
            text: sql.text,
            values: sql.values,
          })
        ).rows,
      'prisma+named': (call) => call.viaModel?.(namedPrisma) ?? namedPrisma.$queryRaw<Rows>(call.sql),
    };

    // 3. The statements, built by the app's own builders.
    const ids = createSnowflake(1000, () => Date.now());
    let sends = 0;
    let author = 0;
    const send = () => {
      const id = ids.next();
      const authorId = members[author++ % members.length] as bigint;
      const sql = sendTopLevelSql({
        id,
        channelId,
        authorId,
        text: `bench message ${id}`,
        nonce: `n${id}`,
        now: new Date(),
        mentions: { userIds: [], here: false, channel: false, hereOnline: [] },
      });
      return {
        sql,
        check(rows: Record<string, unknown>[]) {
          sends++;
          const seq = rows[0]?.seq;
          if (typeof seq !== 'bigint') throw new Error(`send returned no bigint seq: ${String(seq)}`);
        },
      };
    };
    let reader = 0;
    const access = () => {
      const userId = members[reader++ % members.length] as bigint;
      return {
        sql: accessChannelSql(userId, channelId),
        check(rows: Record<string, unknown>[]) {
          const r = rows[0];
          if (r?.mUserId !== userId || typeof r.lastSeq !== 'bigint' || r.inWorkspace !== true)
            throw new Error(`access returned no membership for ${userId}: ${JSON.stringify(r, (_, v) => String(v))}`);
        },
      };
    };
    // The history statements: the seeded messages, newest first (cursors walk over them).
    const seeded = (
      await db.withSession((s) =>
        s.query<{ id: string }>(
          'SELECT id::text AS id FROM messages WHERE channel_id = $1 AND listed ORDER BY id DESC',
          [String(channelId)],
        ),
      )
    ).map((r) => BigInt(r.id));
    failures.check(seeded.length === MESSAGES, () => `seeded ${seeded.length} listed messages, not ${MESSAGES}`);
    const isMessageRow = (r: Record<string, unknown> | undefined) =>
      typeof r?.id === 'bigint' && r.createdAt instanceof Date && typeof r.text === 'string';
    const readFacts = () => {
      const userId = members[reader++ % members.length] as bigint;
      return {
        sql: readFactsSql([[userId, channelId]]),
        check(rows: Rows) {
          const r = rows[0];
          if (r?.userId !== userId || r.member !== true || r.inWorkspace !== true || r.kind !== 'PUBLIC')
            throw new Error(`read facts wrong for ${userId}: ${JSON.stringify(r, (_, v) => String(v))}`);
        },
      };
    };
    const newest = () => ({
      sql: newestPagesSql([channelId], 50),
      check(rows: Rows) {
        if (rows.length !== 51 || !isMessageRow(rows[0])) throw new Error(`newest page: ${rows.length} rows`);
      },
    });
    // Cursors from the newest message down to the 52nd oldest: every page is full (51 rows).
    const cursorSpan = Math.max(1, seeded.length - 52);
    let cursor = 0;
    const page = () => {
      const below = seeded[(cursor++ * 97) % cursorSpan] as bigint;
      return {
        sql: historyPageSql(channelId, { below, above: 0n, limit: 51, newestFirst: true }),
        check(rows: Rows) {
          if (rows.length !== 51 || !isMessageRow(rows[0]) || !((rows[0]?.id as bigint) < below))
            throw new Error(`page below ${below}: ${rows.length} rows`);
        },
      };
    };
    let profiled = 0;
    const profiles = () => {
      const ids = Array.from({ length: 10 }, () => members[profiled++ % members.length] as bigint);
      return {
        sql: profilesSql(ids),
        viaModel: (client: PrismaClient) =>
          client.user.findMany({ where: { id: { in: ids } }, omit: { passwordHash: true } }) as Promise<Rows>,
        check(rows: Rows) {
          if (rows.length !== 10 || !(rows[0]?.createdAt instanceof Date) || 'passwordHash' in (rows[0] ?? {}))
            throw new Error(`profiles: ${rows.length} rows`);
        },
      };
    };
    // A page's joins: the reactions and mentions of 50 consecutive messages (the fixture gave the
    // newest 2,000 messages 3 reactions and 1 mention each). Variants A and C run the Prisma model
    // query the loaders ran before (src/graphql/loaders.ts), B the raw statement.
    const decorated = seeded.slice(0, JOINED);
    let joined = 0;
    const pageIds = () => {
      const start = (joined++ * 50) % (decorated.length - 50);
      return decorated.slice(start, start + 50);
    };
    const reactions = () => {
      const ids = pageIds();
      return {
        sql: reactionsSql(ids),
        viaModel: (client: PrismaClient) =>
          client.reaction.findMany({
            where: { messageId: { in: ids } },
            orderBy: [{ messageId: 'asc' }, { createdAt: 'asc' }],
          }) as Promise<Rows>,
        check(rows: Rows) {
          if (rows.length !== 150 || !(rows[0]?.createdAt instanceof Date))
            throw new Error(`reactions: ${rows.length} rows`);
        },
      };
    };
    const mentions = () => {
      const ids = pageIds();
      return {
        sql: mentionsSql(ids),
        viaModel: (client: PrismaClient) =>
          client.messageMention.findMany({
            where: { messageId: { in: ids } },
            orderBy: { id: 'asc' },
          }) as Promise<Rows>,
        check(rows: Rows) {
          if (rows.length < 50 || typeof rows[0]?.messageId !== 'bigint')
            throw new Error(`mentions: ${rows.length} rows`);
        },
      };
    };
    const makers: Record<StatementName, () => Call> = {
      send,
      access,
      facts: readFacts,
      newest,
      page,
      profiles,
      reactions,
      mentions,
    };

    // Every variant sends the very same text for a plain send (one prepared statement).
    const texts = new Set([send().sql.text, send().sql.text]);
    failures.check(texts.size === 1, 'the send statement text varies between plain sends');
    if (!/\$1\b/.test([...texts][0] ?? '')) throw new Error('Prisma.Sql.text does not use $n placeholders');

    // 4. Interleaved rounds.
    const statementsBefore = db.statements.count;
    let prismaCalls = 0;
    for (const statement of SELECTED) {
      for (const clients of [...new Set([1, CONCURRENCY])]) {
        const make = makers[statement];
        for (const v of VARIANTS) {
          await runRound(runners[v], make, WARMUP, clients);
          if (v === 'prisma') prismaCalls += WARMUP;
        }
        const rounds: Record<VariantName, Round[]> = { prisma: [], pg: [], 'prisma+named': [] };
        for (let r = 0; r < ROUNDS; r++) {
          for (const v of VARIANTS) {
            const round = await runRound(runners[v], make, CALLS, clients);
            rounds[v].push(round);
            if (v === 'prisma') prismaCalls += CALLS;
            log(
              `${statement} x${clients} round ${r + 1} ${v}: ${(round.cpuUs / round.calls).toFixed(0)} µs CPU/call, ` +
                `${((round.calls * 1000) / round.wallMs).toFixed(0)} calls/s`,
            );
          }
        }
        for (const v of VARIANTS) {
          const rs = rounds[v];
          const calls = rs.reduce((n, r) => n + r.calls, 0);
          rows.push({
            statement,
            variant: v,
            clients,
            calls,
            cpuUsPerCall: rs.reduce((n, r) => n + r.cpuUs, 0) / calls,
            roundCpuUs: rs.map((r) => r.cpuUs / r.calls),
            callsPerS: (calls * 1000) / rs.reduce((n, r) => n + r.wallMs, 0),
            summary: summarize(rs.flatMap((r) => r.latencies)),
          });
        }
      }
    }
    // The counter counts what goes through the app's adapter (variant A), whatever else runs.
    failures.check(
      db.statements.count - statementsBefore === prismaCalls,
      () => `statement counter: ${db!.statements.count - statementsBefore} counted, ${prismaCalls} prisma calls made`,
    );

    // 5. The database agrees with the sends made (the two send texts built above were not sent).
    const made = sends;
    const facts = await pgPool.query<{ messages: string; last_seq: string; outbox: string }>(
      `SELECT (SELECT count(*) FROM messages WHERE channel_id = $1)::text AS messages,
              (SELECT last_seq FROM channels WHERE id = $1)::text AS last_seq,
              (SELECT count(*) FROM outbox WHERE kind = 'message.posted')::text AS outbox`,
      [channelId],
    );
    const f = facts.rows[0];
    failures.check(
      f?.messages === String(MESSAGES + made) && f.last_seq === String(MESSAGES + made) && f.outbox === String(made),
      () => `database after ${made} sends: ${JSON.stringify(f)}`,
    );

    const pgVersion =
      (await pgPool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
    const cpu = cpus();
    const header = [
      `bench:send-path  ${started.toISOString()}`,
      `node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL ${pgVersion}`,
      `fixture: one channel of ${MEMBERS} members and ${MESSAGES} messages; pools of ${POOL}; per statement and concurrency: ${WARMUP} warm-up calls per variant, ` +
        `then ${ROUNDS} interleaved rounds (A, B, C, ...) of ${CALLS} calls; CPU = process.cpuUsage() of this process / calls`,
      `A prisma = prisma.$queryRaw(sql) on the app's Database; B pg = pg.Pool named statement, same text and values; ` +
        `C prisma+named = PrismaPg with statementNameGenerator`,
    ].join('\n');
    const text = `${header}\n\n${report(rows)}\n`;
    process.stdout.write(`\n${text}`);
    try {
      mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
      const file = new URL(`./results/send-path-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
      writeFileSync(file, JSON.stringify({ started: started.toISOString(), header, rows }, null, 2));
      log(`results written to ${file.pathname}`);
    } catch (err) {
      log(`could not write results JSON: ${(err as Error).message}`);
    }
  } catch (err) {
    if (rows.length > 0) process.stdout.write(`\n(partial results)\n${report(rows)}\n`);
    log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    failures.add(`aborted: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await named?.$disconnect().catch(() => {});
    await namedPool?.end().catch(() => {});
    await pool?.end().catch(() => {});
    await db?.close().catch(() => {});
    if (scratch && !process.env.BENCH_KEEP_DB) {
      await dropScratch(SCRATCH_DB).catch((e: unknown) => log(`could not drop ${SCRATCH_DB}: ${(e as Error).message}`));
    }
    clearTimeout(watchdog);
  }
  failures.report();
}

await main();
