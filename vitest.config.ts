import { defineConfig } from 'vitest/config';

/**
 * Unit tests run once. API and contract tests run twice: on the embedded database (PGlite) and on
 * PostgreSQL. Without a reachable PostgreSQL the second run skips, unless REQUIRE_SERVICES=1 (CI),
 * where it fails instead.
 */
export default defineConfig({
  // graphql@16 ships CJS (main) and ESM (module) builds. Node loads the CJS one for Pothos and
  // yoga; make Vite resolve our own imports to the same file, or schemas cross "realms".
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['tests/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'pglite', include: ['tests/api/**/*.test.ts'], env: { TEST_DB: 'pglite' } } },
      { extends: true, test: { name: 'postgres', include: ['tests/api/**/*.test.ts'], env: { TEST_DB: 'postgres' } } },
      // Several gateway processes and Redis shards: needs PostgreSQL (shared by the processes) and redis-server.
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['tests/cluster/**/*.test.ts'],
          env: { TEST_DB: 'postgres' },
          fileParallelism: false,
        },
      },
    ],
  },
});
