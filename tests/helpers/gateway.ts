import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './db.js';
import { RedisShard, redisServerAvailable } from './redis.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A real gateway process (`src/main.ts`), as a separate OS process on its own port. */
export class GatewayProcess {
  private constructor(
    private readonly proc: ChildProcess,
    readonly url: string,
    readonly output: string[],
  ) {}

  static async start(env: Record<string, string>, args: string[] = []): Promise<GatewayProcess> {
    const output: string[] = [];
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output.join('')}`)), 60_000);
      const onData = (d: Buffer) => {
        output.push(d.toString());
        const m = /Chat API ready at (\S+)/.exec(output.join(''));
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', (d: Buffer) => output.push(d.toString()));
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`gateway exited with ${code}:\n${output.join('')}`));
      });
    });
    return new GatewayProcess(proc, url, output);
  }

  /** Still running (not exited or killed). */
  get alive() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid() {
    return this.proc.pid!;
  }

  /** kill -9: no shutdown, no cleanup, connections cut. */
  async kill9() {
    if (!this.alive) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }

  async stop() {
    if (!this.alive) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }
}

/** Whether a cluster can start here: redis-server is installed and PostgreSQL (which the gateways share) answers. */
export async function clusterAvailable(): Promise<boolean> {
  return redisServerAvailable() && (await postgresAvailable());
}

/** A fresh database, Redis shards on one ring, and gateway processes using both. */
export interface Cluster {
  readonly db: TestDatabase;
  readonly shards: RedisShard[];
  readonly gateways: GatewayProcess[];
  /** Stops the gateways, kills the shards and drops the database. */
  stop(): Promise<void>;
}

/** Starts them all at once; keeps what did start (for `stop`) and throws the first failure. */
async function startAll<T>(n: number, start: () => Promise<T>, into: T[]): Promise<void> {
  const settled = await Promise.allSettled(Array.from({ length: n }, start));
  for (const r of settled) if (r.status === 'fulfilled') into.push(r.value);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Starts a cluster: a fresh database, `shards` redis-server processes and `gateways` gateway
 * processes on that database and ring (shard health checked every 250 ms), each given `env` on top.
 * When any part fails to start, what did start is stopped before the error is thrown.
 */
export async function startCluster(
  options: { shards?: number; gateways?: number; env?: Record<string, string> } = {},
): Promise<Cluster> {
  const db = await createTestDatabase();
  const shards: RedisShard[] = [];
  const gateways: GatewayProcess[] = [];
  const stop = async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all(shards.map((s) => s.kill()));
    await db.drop();
  };
  try {
    await startAll(options.shards ?? 2, () => RedisShard.start(), shards);
    const env = {
      DATABASE_URL: db.config.kind === 'postgres' ? db.config.url : '',
      REDIS_URLS: shards.map((s) => s.url).join(','),
      REDIS_HEALTH_INTERVAL_MS: '250',
      ...options.env,
    };
    await startAll(options.gateways ?? 2, () => GatewayProcess.start(env), gateways);
  } catch (err) {
    await stop();
    throw err;
  }
  return { db, shards, gateways, stop };
}
