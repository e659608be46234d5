import pg from 'pg';
import { createDatabase, type Database } from '../../src/infra/db/database.js';
import { migrate } from '../../src/infra/db/migrator.js';

/** Benchmarks run against a scratch database on the local PostgreSQL (trust auth). */
export const ADMIN_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

export function scratchUrl(name: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** DATABASE_URL when given (PostgreSQL only), else a freshly recreated scratch database `name`. */
export async function prepareDatabase(name: string): Promise<{ url: string; scratch: boolean }> {
  const given = process.env.DATABASE_URL;
  if (given) {
    if (!/^postgres(ql)?:\/\//.test(given))
      throw new Error('DATABASE_URL must be a postgres:// URL (this benchmark is PostgreSQL only)');
    return { url: given, scratch: false };
  }
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return { url: scratchUrl(name), scratch: true };
}

/**
 * Drops the scratch database. pg's Pool.end() resolves before its connections have closed; a
 * forced drop that kills a still-open idle connection makes that pool emit 'error', so wait for
 * them to go first (up to 5 s).
 */
export async function dropScratch(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    for (let i = 0; i < 50; i++) {
      const r = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [
        name,
      ]);
      if ((r.rows[0]?.n ?? 0) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * Opens the PostgreSQL database at `url` through the project's own port, migrates it, runs
 * `fixture` on it (seeding, by bench/seed.ts or more) and closes it again, whatever happens.
 */
export async function withMigratedDatabase<T>(url: string, fixture: (db: Database) => Promise<T>): Promise<T> {
  const db = await createDatabase({ kind: 'postgres', url, poolSize: 2 });
  try {
    await migrate(db);
    return await fixture(db);
  } finally {
    await db.close();
  }
}
