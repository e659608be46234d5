import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

// The runtime is a dependency: the registry's `node` package, pinned in package.json, whose binary
// npm puts first on the PATH of every npm script, whatever Node runs npm itself.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
};
const pinned = `v${pkg.dependencies.node}`;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** [major, minor] of "v24.21.0" or ">=24.11". */
const majorMinor = (v: string) => {
  const m = /(\d+)\.(\d+)/.exec(v);
  if (!m) throw new Error(`not a version: ${v}`);
  return [Number(m[1]), Number(m[2])] as const;
};

it('the pinned runtime is a Node 24 that satisfies engines', () => {
  expect(pkg.dependencies.node).toMatch(/^24\.\d+\.\d+$/); // exact, not a range
  expect(pkg.engines.node).toMatch(/^>=24(\.\d+)?$/);
  const [major, minor] = majorMinor(pinned);
  const [minMajor, minMinor] = majorMinor(pkg.engines.node.includes('.') ? pkg.engines.node : `${pkg.engines.node}.0`);
  expect(major === minMajor ? minor >= minMinor : major > minMajor).toBe(true);
  // The image runs its base's Node: the same major.
  const bases = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^FROM node:(\d+)-/gm)].map((m) => m[1]);
  expect(bases).toEqual([String(major), String(major)]);
});

it('npm test runs on the pinned runtime', () => {
  expect(process.version).toBe(pinned);
  expect(process.execPath).toBe(join(ROOT, 'node_modules', 'node', 'bin', 'node'));
});

/**
 * Runs `npm run <script>` from a shell whose PATH does not have the project's binaries on it (as a
 * user's terminal) until its start log line (`msg`) names the Node version and the process id;
 * then sends that process SIGTERM and expects npm to exit 0. Resolves with the version.
 */
function npmRunOnNode(script: string, msg: string, env: Record<string, string>) {
  const PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => !p.endsWith(join('node_modules', '.bin')))
    .join(delimiter);
  const line = new RegExp(`"node":"(v[^"]+)","pid":(\\d+),"msg":"${msg}"`);
  return new Promise<string>((resolve, reject) => {
    const p = spawn('npm', ['run', script, '--silent'], {
      cwd: ROOT,
      env: { ...process.env, PATH, NODE_ENV: 'test', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let version = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 90_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = !version && line.exec(out);
      if (m) {
        version = m[1]!;
        process.kill(Number(m[2]), 'SIGTERM'); // npm start/worker exec node: the pid is the server's
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (version && code === 0) resolve(version);
      else reject(new Error(`npm run ${script} exited with ${code ?? signal}:\n${out}`));
    });
  });
}

it.each([
  ['start', 'listening'],
  ['worker', 'outbox worker running'],
])(
  'npm run %s runs on the pinned runtime (its start log says so) and stops on SIGTERM',
  async (script, msg) => {
    const dataDir = mkdtempSync(join(tmpdir(), `chat-runtime-${script}-`));
    dirs.push(dataDir);
    expect(await npmRunOnNode(script, msg, { DATA_DIR: dataDir })).toBe(pinned);
  },
  120_000,
);
