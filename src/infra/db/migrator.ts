import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Database, SqlSession } from './database.js';

/**
 * Applies prisma/migrations/<timestamp>_<name>/migration.sql in order and records each in
 * `_prisma_migrations` exactly as Prisma Migrate does (checksum = SHA-256 of the file), so
 * `prisma migrate status` / `deploy` agree wherever Prisma's schema engine is available. Prisma's
 * schema engine is a separate download that some installs cannot fetch, hence this small migrator.
 *
 * Safe to run from several processes at once: a session-level advisory lock serializes them.
 */
export const MIGRATIONS_DIR = new URL('../../../prisma/migrations/', import.meta.url).pathname;
const LOCK_KEY = 72707369; // arbitrary, fixed: "chat migrations"

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

export async function migrate(db: Database, migrations: Migration[] = readMigrations()): Promise<MigrateResult> {
  return db.withSession(async (s) => {
    await s.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      return await applyPending(s, migrations);
    } finally {
      await s.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  });
}

async function applyPending(s: SqlSession, migrations: Migration[]): Promise<MigrateResult> {
  await s.exec(CREATE_TABLE);
  const rows = await s.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
    'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
  );
  const done = new Map(rows.map((r) => [r.migration_name, r]));
  const applied: string[] = [];
  for (const m of migrations) {
    const prior = done.get(m.name);
    if (prior) {
      if (!prior.finished_at) {
        throw new Error(`migration ${m.name} started but did not finish; resolve it by hand before starting`);
      }
      if (prior.checksum !== m.checksum) {
        throw new Error(`migration ${m.name} was edited after it was applied (checksum differs)`);
      }
      continue;
    }
    const id = randomUUID();
    await s.exec('BEGIN');
    try {
      await s.query(
        'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
        [id, m.checksum, m.name],
      );
      await s.exec(m.sql);
      await s.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
      await s.exec('COMMIT');
    } catch (err) {
      await s.exec('ROLLBACK');
      throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
    }
    applied.push(m.name);
  }
  return { applied, alreadyApplied: migrations.length - applied.length };
}
