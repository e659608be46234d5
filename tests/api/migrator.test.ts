import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeApi } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createDatabase, type Database } from '../../src/infra/db/database.js';
import { migrate, readMigrations } from '../../src/infra/db/migrator.js';

describeApi('migrator', () => {
  let tdb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = await createDatabase(tdb.config);
  });
  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });

  it('applies every migration once and records it the way Prisma Migrate does', async () => {
    const all = readMigrations();
    expect(all.length).toBeGreaterThan(0);
    const first = await migrate(db);
    expect(first.applied).toEqual(all.map((m) => m.name));
    const second = await migrate(db);
    expect(second).toEqual({ applied: [], alreadyApplied: all.length });
    const rows = await db.withSession((s) =>
      s.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }>(
        'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
      ),
    );
    expect(rows.map((r) => [r.migration_name, r.checksum, r.applied_steps_count])).toEqual(
      all.map((m) => [m.name, m.checksum, 1]),
    );
    expect(rows.every((r) => r.finished_at)).toBe(true);
  });

  it('refuses a migration edited after it was applied, and rolls back a failing one', async () => {
    const all = readMigrations();
    const edited = all.map((m, i) => (i === 0 ? { ...m, checksum: 'f'.repeat(64) } : m));
    await expect(migrate(db, edited)).rejects.toThrow(/edited after it was applied/);
    const broken = [
      ...all,
      {
        name: '99990101000000_broken',
        sql: 'CREATE TABLE half_done (id int); SELECT no_such_function();',
        checksum: 'x',
      },
    ];
    await expect(migrate(db, broken)).rejects.toThrow(/99990101000000_broken failed/);
    const left = await db.withSession((s) =>
      s.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'`),
    );
    expect(left).toHaveLength(0);
  });
});
