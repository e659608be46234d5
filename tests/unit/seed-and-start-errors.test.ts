import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDatabase } from '../../src/infra/db/database.js';
import { Client } from '../helpers/app.js';
import { LogInDocument, SearchCountDocument } from '../generated/gql/graphql.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'chat-seed-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs a command in the project like a user would; resolves with its exit code and output. */
function run(cmd: string, args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const seedArgs = ['run', 'seed', '--silent', '--', '--users', '3', '--channels', '1', '--messages', '20'];

it('seed refuses an embedded data directory a process holds, and what it seeds is searchable', async () => {
  const dataDir = tempDir();
  const held = await createDatabase({ kind: 'pglite', dataDir: join(dataDir, 'pglite') });
  let refused;
  try {
    refused = await run('npm', seedArgs, { DATA_DIR: dataDir });
  } finally {
    await held.close();
  }
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain(`is in use by process ${process.pid}`);
  expect(refused.stderr).not.toMatch(/\n\s+at /); // one line, no stack trace

  const seeded = await run('npm', seedArgs, { DATA_DIR: dataDir });
  expect(seeded.stderr).toContain('indexing the seeded messages');
  expect(seeded.code).toBe(0);

  const app = await buildApp(
    loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir }),
  );
  try {
    const { url } = await app.start();
    const message = await app.db.prisma.message.findFirstOrThrow({ where: { threadRootId: null } });
    const word = message.text
      .replace(/[^a-z ]/gi, ' ')
      .trim()
      .split(/\s+/)
      .pop()!
      .toLowerCase();
    const login = await new Client(url).ok(LogInDocument, { email: 'user1@example.com', password: 'password' });
    const found = await new Client(url, login.logIn.token).ok(SearchCountDocument, { query: word });
    expect(found.search.totalCount).toBeGreaterThanOrEqual(1);
  } finally {
    await app.stop();
  }
}, 240_000);

it('a busy port is one line, before any migration touches the data directory', async () => {
  const dataDir = join(tempDir(), 'data');
  const blocker: Server = createServer();
  const port = await new Promise<number>((resolve) =>
    blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
  );
  try {
    const r = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`port ${port} is already in use on 127.0.0.1 (another server running? set PORT)\n`);
    expect(existsSync(dataDir)).toBe(false);
  } finally {
    blocker.close();
  }
}, 120_000);
