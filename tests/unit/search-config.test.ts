import { expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

it('defaults to PostgreSQL full-text search in English and an inline outbox worker', () => {
  const c = loadConfig({});
  expect(c.search).toEqual({ kind: 'postgres', language: 'english' });
  expect(c.outbox).toEqual({ worker: 'inline', pollMs: 200, batchSize: 200, retentionHours: 168 });
});

it('configures Typesense, the language and the worker from the environment', () => {
  const c = loadConfig({
    SEARCH_BACKEND: 'typesense',
    TYPESENSE_URL: 'http://localhost:8108',
    TYPESENSE_API_KEY: 'k',
    SEARCH_LANGUAGE: 'german',
    OUTBOX_WORKER: 'off',
    OUTBOX_POLL_MS: '50',
  });
  expect(c.search).toEqual({
    kind: 'typesense',
    language: 'german',
    url: 'http://localhost:8108',
    apiKey: 'k',
    collection: 'messages',
  });
  expect(c.outbox).toMatchObject({ worker: 'off', pollMs: 50 });
});

it('names what is missing or wrong', () => {
  const message = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error('expected a ConfigError');
  };
  const m = message({ SEARCH_BACKEND: 'typesense' });
  expect(m).toContain('TYPESENSE_URL');
  expect(m).toContain('TYPESENSE_API_KEY');
  expect(message({ SEARCH_BACKEND: 'elastic' })).toContain('SEARCH_BACKEND');
  expect(message({ SEARCH_LANGUAGE: "english'; drop" })).toContain('SEARCH_LANGUAGE');
  expect(message({ OUTBOX_WORKER: 'sometimes', OUTBOX_POLL_MS: '0' })).toMatch(
    /OUTBOX_WORKER[\s\S]*OUTBOX_POLL_MS|OUTBOX_POLL_MS[\s\S]*OUTBOX_WORKER/,
  );
  expect(message({ TYPESENSE_URL: 'ftp://x' })).toContain('TYPESENSE_URL');
});
