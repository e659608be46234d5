import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { requireServices } from './db.js';

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Whether redis-server can be started here; under REQUIRE_SERVICES=1 its absence is an error. */
export function redisServerAvailable(): boolean {
  const ok = spawnSync('redis-server', ['--version']).status === 0;
  if (!ok && requireServices) throw new Error('REQUIRE_SERVICES=1 but redis-server is not installed');
  return ok;
}

/** A real redis-server process on a free port, which tests may kill and restart. */
export class RedisShard {
  private proc: ChildProcess | null = null;
  constructor(readonly port: number) {}

  static async start(): Promise<RedisShard> {
    const shard = new RedisShard(await freePort());
    await shard.restart();
    return shard;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart() {
    if (this.proc) return;
    const proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server on ${this.port} did not start`)), 10_000);
      proc.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
    proc.stdout.resume();
  }

  /** Kills the process outright (SIGKILL), as a crash would. */
  async kill() {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }
}
