import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { createDatabase, type Database } from '../../src/infra/db/database.js';
import { migrate } from '../../src/infra/db/migrator.js';
import { createTestDatabase, type TestDatabase } from './db.js';

/** The outbox tests' logger: silent unless TEST_LOG_LEVEL says otherwise. */
export const outboxLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/**
 * A fresh migrated database for outbox tests, opened before and closed after the enclosing
 * describe (call it there). Each test takes event kinds of its own from `newKind`, so tests (and
 * any other consumer on the database) never take each other's rows.
 */
export function outboxTestDatabase(kindPrefix: string) {
  let testDb: TestDatabase | undefined;
  let db: Database | undefined;
  let seq = 0;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await createDatabase(testDb.config);
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });
  const open = (): Database => {
    if (!db) throw new Error('the outbox test database is open only while the describe runs');
    return db;
  };
  return {
    get db() {
      return open();
    },
    newKind: () => `${kindPrefix}.kind${++seq}.${Math.random().toString(36).slice(2, 8)}`,
    /** Inserts one event of `kind` per aggregate id, created and available `createdAgoMs` ago. */
    insert: async (kind: string, aggregates: bigint[], createdAgoMs = 0) => {
      await open().prisma.$executeRaw`
        INSERT INTO outbox (kind, aggregate_id, payload, created_at, available_at)
        SELECT ${kind}, a, jsonb_build_object('n', a::text), now() - ${createdAgoMs}::float8 * interval '1 millisecond', now() - ${createdAgoMs}::float8 * interval '1 millisecond'
        FROM unnest(${aggregates}::bigint[]) AS a`;
    },
  };
}
