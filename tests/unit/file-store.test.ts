/**
 * The FileStore contract on both adapters: `fs` in a temporary directory behind our own
 * /files/blob route (real HTTP), and `s3` against s3rver (@20minutes/s3rver: the maintained fork, which checks SigV4 signatures), an S3 protocol server started on
 * loopback here (no external service; it runs under REQUIRE_SERVICES=1 like everything else).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import S3rver from '@20minutes/s3rver';
import { createHttpRouter } from '../../src/gateway/http.js';
import { createFsFileStore } from '../../src/infra/files/fs.file-store.js';
import { createS3FileStore } from '../../src/infra/files/s3.file-store.js';
import { describeFileStoreContract } from '../contract/file-store.contract.js';
import { freePort } from '../helpers/redis.js';

const log = pino({ level: 'silent' });

describeFileStoreContract('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'file-store-'));
  const root = join(dir, 'root');
  let base = '';
  const make = (skew: number) =>
    createFsFileStore({
      root,
      secret: 'contract-secret-contract-secret-0123456789',
      baseUrl: () => base,
      now: () => Date.now() + skew,
    });
  const store = make(0);
  const router = createHttpRouter(log);
  router.route(['GET', 'HEAD', 'PUT'], '/files/blob/*', (req, res, r) =>
    store.serve(req, res, r.params['*'] ?? '', r.query),
  );
  const server: Server = createServer(router.listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    store,
    skewed: make,
    strayFiles: async () => (await readdir(dir)).filter((f) => f !== 'root'),
    async cleanup() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describeFileStoreContract('s3 (s3rver on loopback)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 's3rver-'));
  const port = await freePort();
  const s3 = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory: dir,
    configureBuckets: [{ name: 'chat-files', configs: [] }],
  });
  await s3.run();
  const make = (skew: number) =>
    createS3FileStore({
      bucket: 'chat-files',
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
      clockSkewMs: skew,
    });
  const store = make(0);
  return {
    store,
    skewed: make,
    async cleanup() {
      await store.close();
      await s3.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
