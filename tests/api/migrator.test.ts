import { cpSync, mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeApi } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createDatabase, type Database } from '../../src/infra/db/database.js';
import { MIGRATIONS_DIR, migrate, readMigrations } from '../../src/infra/db/migrator.js';

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

  it('reads the directory on disk: a migration.sql edited after it was applied is refused by name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    const fresh = await createTestDatabase();
    const fdb = await createDatabase(fresh.config);
    try {
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      const names = readMigrations(dir).map((m) => m.name);
      expect((await migrate(fdb, readMigrations(dir))).applied).toEqual(names);

      // Same name, content changed on disk (a comment is enough: the checksum is of the file).
      const edited = names[1]!;
      appendFileSync(join(dir, edited, 'migration.sql'), '\n-- edited after it was applied\n');
      // A new migration after it must not be applied either: nothing runs past a refusal.
      mkdirSync(join(dir, '99990103000000_after_the_edit'));
      writeFileSync(
        join(dir, '99990103000000_after_the_edit', 'migration.sql'),
        'CREATE TABLE after_the_edit (id int);',
      );
      const refusal = migrate(fdb, readMigrations(dir));
      await expect(refusal).rejects.toThrow(`migration ${edited} was edited after it was applied`);
      const created = await fdb.withSession((s) =>
        s.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'after_the_edit'`),
      );
      expect(created).toHaveLength(0);
    } finally {
      await fdb.close();
      await fresh.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('knows a migration by its name: the same content under a new name is a new migration, an edit under the same name is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    const fresh = await createTestDatabase();
    const fdb = await createDatabase(fresh.config);
    try {
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      const note = (name: string, sql: string) => {
        mkdirSync(join(dir, name), { recursive: true });
        writeFileSync(join(dir, name, 'migration.sql'), sql);
      };
      note('99990101000000_note', 'SELECT 1;');
      await migrate(fdb, readMigrations(dir));

      // Only the name differs: not an edit; it is pending under its new name and applies.
      renameSync(join(dir, '99990101000000_note'), join(dir, '99990102000000_note'));
      const renamed = await migrate(fdb, readMigrations(dir));
      expect(renamed.applied).toEqual(['99990102000000_note']);
      const recorded = await fdb.withSession((s) =>
        s.query<{ migration_name: string; checksum: string }>(
          `SELECT migration_name, checksum FROM _prisma_migrations WHERE migration_name LIKE '9999%' ORDER BY migration_name`,
        ),
      );
      expect(recorded.map((r) => r.migration_name)).toEqual(['99990101000000_note', '99990102000000_note']);
      expect(recorded[0]!.checksum).toBe(recorded[1]!.checksum);

      // The same name with other content: refused, naming it.
      writeFileSync(join(dir, '99990102000000_note', 'migration.sql'), 'SELECT 2;');
      await expect(migrate(fdb, readMigrations(dir))).rejects.toThrow(
        'migration 99990102000000_note was edited after it was applied',
      );
    } finally {
      await fdb.close();
      await fresh.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
