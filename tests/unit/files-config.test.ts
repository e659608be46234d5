import { expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

it('defaults to the fs file store under DATA_DIR, 100 MiB files and 5-minute URLs', () => {
  const c = loadConfig({ DATA_DIR: '/var/chat/' });
  expect(c.files.store).toEqual({ kind: 'fs', root: '/var/chat/files' });
  expect(c.files).toMatchObject({ maxBytes: 100 * 1024 * 1024, urlTtlS: 300, workspaceQuotaBytes: 0, publicUrl: null });
  expect(c.files.signingSecret.length).toBeGreaterThanOrEqual(32);
});

it('selects s3 with its variables and names every missing one', () => {
  const c = loadConfig({
    FILE_STORE: 's3',
    S3_BUCKET: 'chat-files',
    S3_ENDPOINT: 'http://127.0.0.1:9000',
    S3_ACCESS_KEY_ID: 'k',
    S3_SECRET_ACCESS_KEY: 's',
  });
  expect(c.files.store).toMatchObject({ kind: 's3', bucket: 'chat-files', forcePathStyle: true, region: 'us-east-1' });
  expect(() => loadConfig({ FILE_STORE: 's3', S3_BUCKET: 'chat-files' })).toThrow(
    /S3_ACCESS_KEY_ID: required when FILE_STORE=s3[\s\S]*S3_SECRET_ACCESS_KEY/,
  );
  expect(() => loadConfig({ FILE_STORE: 'gcs' })).toThrow(ConfigError);
  expect(() => loadConfig({ S3_BUCKET: 'Bad_Bucket' })).toThrow(/S3_BUCKET/);
});

it('takes a public origin without a path, a shared signing secret, and type lists', () => {
  expect(loadConfig({ FILE_SIGNING_SECRET: 'x'.repeat(32) }).files.signingSecret).toBe('x'.repeat(32));
  expect(() => loadConfig({ FILE_SIGNING_SECRET: 'short' })).toThrow(/FILE_SIGNING_SECRET/);
  expect(() => loadConfig({ PUBLIC_URL: 'https://chat.example.com/x' })).toThrow(/PUBLIC_URL/);
  expect(loadConfig({ FILE_DENIED_TYPES: 'Application/x-msdownload, image/*' }).files.deniedTypes).toEqual([
    'application/x-msdownload',
    'image/*',
  ]);
});

it('refuses to start in production on the fs store without a shared signing secret', () => {
  // Each process would make up its own: URLs signed by one gateway would fail on another.
  expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
  expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
    /FILE_SIGNING_SECRET: required when NODE_ENV=production and FILE_STORE=fs/,
  );
  expect(loadConfig({ NODE_ENV: 'production', FILE_SIGNING_SECRET: 'y'.repeat(32) }).files.signingSecret).toBe(
    'y'.repeat(32),
  );
  // Outside production a random one is still made up; with s3 there are no URLs of ours to sign.
  expect(loadConfig({ NODE_ENV: 'development' }).files.signingSecret.length).toBeGreaterThanOrEqual(32);
  const s3 = { FILE_STORE: 's3', S3_BUCKET: 'chat-files', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's' };
  expect(loadConfig({ NODE_ENV: 'production', ...s3 }).files.store.kind).toBe('s3');
});
