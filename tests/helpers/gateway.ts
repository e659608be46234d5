import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
