import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PrismaPg } from '@prisma/adapter-pg';
import { mkdirSync } from 'node:fs';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { DatabaseConfig } from '../../config.js';
import { createLogger, type Logger } from '../../logger.js';
import { PrismaClient, type Prisma } from '../../generated/prisma/client.js';
import { lockDataDir } from './data-dir-lock.js';
import { countingAdapter, createStatementLog, type StatementLog } from './statements.js';

export type { PrismaClient, StatementLog };
export type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/** One connection's worth of raw SQL, for the migrator and tools that need scripts or locks. */
export interface SqlSession {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements (simple query protocol). */
  exec(script: string): Promise<void>;
}

/**
 * One hot statement (a `Prisma.sql` template) outside Prisma's query path, for the few statements
 * every send runs. Rows come back as `$queryRaw` returns them (int8 as bigint, timestamps as Date).
 * On PostgreSQL it is a named (server-side prepared) statement on Prisma's own pool, through
 * node-postgres: bench/send-path.bench.ts measured Prisma's client-side work per call at well over
 * the driver's (BENCHMARKS.md, "Send path"). On PGlite it goes through Prisma. Counted like every
 * statement. Not for transactions: it runs on whichever pooled connection is free.
 */
export type RawQuery = <T = Record<string, unknown>>(sql: Prisma.Sql) => Promise<T[]>;

/** The database port: Prisma for the domain, a raw session for migrations, and lifecycle. */
export interface Database {
  readonly kind: DatabaseConfig['kind'];
  readonly prisma: PrismaClient;
  /** The hot statements' way to the database (see RawQuery). */
  readonly rawQuery: RawQuery;
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /** Connections of the pool (PostgreSQL): open, idle, and requests waiting for one; for metrics. */
  pool?(): { total: number; idle: number; waiting: number };
  /** Every statement this database object sends (Prisma and raw sessions), for cost tests. */
  readonly statements: StatementLog;
  close(): Promise<void>;
}

/** `log` gets the pool's warnings (PostgreSQL); without one they go to a warn-level logger of their own. */
export async function createDatabase(config: DatabaseConfig, log?: Logger): Promise<Database> {
  switch (config.kind) {
    case 'pglite':
      return createPgliteDatabase(config.dataDir);
    case 'postgres':
      return createPostgresDatabase(config.url, config.poolSize, log ?? createLogger({ logLevel: 'warn' }));
    default: {
      const never: never = config;
      throw new Error(`unknown database kind ${(never as { kind: string }).kind}`);
    }
  }
}

async function createPgliteDatabase(dataDir: string | null): Promise<Database> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const unlock = dataDir ? lockDataDir(dataDir) : () => {};
  const client = await PGlite.create(dataDir ?? undefined, { extensions: { pg_trgm } });
  const statements = createStatementLog();
  const prisma = new PrismaClient({ adapter: countingAdapter(new PrismaPGlite(client), statements.record) });
  const session: SqlSession = {
    async query<T>(sql: string, params: unknown[] = []) {
      statements.record(sql);
      return (await client.query<T>(sql, params)).rows;
    },
    async exec(script) {
      statements.record(script);
      await client.exec(script);
    },
  };
  return {
    kind: 'pglite',
    prisma,
    // PGlite has no pool to bypass Prisma with; its own query() serializes parameters by the
    // server's inferred types and cannot take every array the hot statements pass.
    rawQuery: (sql) => prisma.$queryRaw(sql),
    statements,
    withSession: (fn) => fn(session),
    async close() {
      await prisma.$disconnect();
      await client.close();
      unlock();
    },
  };
}

async function createPostgresDatabase(url: string, poolSize: number, log: Logger): Promise<Database> {
  // A server that does not answer (blackholed) fails a checkout within 30 s instead of holding the
  // request forever: the client gets SERVICE_UNAVAILABLE and may retry. (The wait includes queueing
  // for a free connection, so it is long enough not to shed ordinary overload; a refused or closed
  // connection fails at once.)
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 30_000 });
  // An idle pooled connection killed by the server (restart, pg_terminate_backend) is an 'error'
  // event on the pool; unhandled, it would crash the process. The pool replaces the connection.
  pool.on('error', (err) => log.warn({ err }, 'postgres pool: idle connection lost'));
  // Fail at start with the server's own message rather than on the first request.
  const probe = await pool.connect();
  probe.release();
  const statements = createStatementLog();
  const prisma = new PrismaClient({ adapter: countingAdapter(new PrismaPg(pool), statements.record) });
  return {
    kind: 'postgres',
    pool: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    prisma,
    rawQuery: pgRawQuery(pool, statements.record),
    statements,
    async withSession(fn) {
      const conn = await pool.connect();
      try {
        return await fn({
          async query<T>(sql: string, params: unknown[] = []) {
            statements.record(sql);
            return (await conn.query(sql, params)).rows as T[];
          },
          async exec(script) {
            statements.record(script);
            await conn.query(script);
          },
        });
      } finally {
        conn.release();
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/** int8 as bigint, the way Prisma's $queryRaw returns it; every other type as node-postgres parses it. */
const RAW_TYPES = new pg.TypeOverrides();
RAW_TYPES.setTypeParser(pg.types.builtins.INT8, (v: string) => BigInt(v));
/** Statement texts that get a prepared statement of their own (the hot ones are a handful). */
const MAX_PREPARED = 64;

/** RawQuery on a pg pool: each distinct text is prepared once per connection (a named statement). */
function pgRawQuery(pool: pg.Pool, record: (sql: string) => void): RawQuery {
  const names = new Map<string, string>();
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < MAX_PREPARED) {
      name = `hot_${names.size}`;
      names.set(text, name);
    }
    return name;
  };
  return async <T>(sql: Prisma.Sql) => {
    const text = sql.text;
    record(text);
    const result = await pool.query({ name: nameOf(text), text, values: sql.values, types: RAW_TYPES });
    return result.rows as T[];
  };
}
