import { expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

it('defaults to the embedded database under ./data on port 4000', () => {
  const c = loadConfig({});
  expect(c.port).toBe(4000);
  expect(c.database).toEqual({ kind: 'pglite', dataDir: './data/pglite' });
  expect(c.graphql).toMatchObject({ graphiql: true, introspection: true, fieldSuggestions: true });
});

it('switches to PostgreSQL when DATABASE_URL is set, and hardens production', () => {
  const c = loadConfig({
    DATABASE_URL: 'postgresql://u@h:5432/db',
    NODE_ENV: 'production',
    FILE_SIGNING_SECRET: 's'.repeat(32),
    PORT: '8080',
    WORKER_ID: '12',
  });
  expect(c.database).toEqual({ kind: 'postgres', url: 'postgresql://u@h:5432/db', poolSize: 10 });
  expect(c).toMatchObject({
    port: 8080,
    workerId: 12,
    graphql: { graphiql: false, introspection: false, fieldSuggestions: false },
  });
});

it('names every bad variable in one clear message', () => {
  let error: unknown;
  try {
    loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', WORKER_ID: '5000', LOG_LEVEL: 'loud' });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const message = (error as Error).message;
  for (const name of ['PORT', 'DATABASE_URL', 'WORKER_ID', 'LOG_LEVEL']) expect(message).toContain(name);
});

it('runs queries compiled (graphql-jit) unless GRAPHQL_JIT=false', () => {
  expect(loadConfig({}).graphql.jit).toBe(true);
  expect(loadConfig({ GRAPHQL_JIT: 'false' }).graphql.jit).toBe(false);
  expect(() => loadConfig({ GRAPHQL_JIT: 'sometimes' })).toThrow(/GRAPHQL_JIT/);
});
