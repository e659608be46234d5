import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * Vitest for mutation testing (npm run test:mutation, see docs/testing.md): the embedded database
 * only (PGlite: no service, no shared state between Stryker's runs), and only the test files that
 * exercise the rule modules Stryker mutates (stryker.config.json). Not used by `npm test`.
 */
export default defineConfig({
  resolve: base.resolve,
  test: {
    name: 'pglite',
    env: { TEST_DB: 'pglite' },
    include: [
      'tests/api/mention-rule.test.ts',
      'tests/api/send-paths.test.ts',
      'tests/api/channels.test.ts',
      'tests/api/messages.test.ts',
      'tests/api/realtime.test.ts',
      'tests/api/races.test.ts',
      'tests/**/*-mutants.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
