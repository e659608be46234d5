import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { print } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client, describeApi, startTestApp, basicWorkspace, listenMark } from '../helpers/app.js';
import { createTestDatabase, testDbKind, type TestDatabase } from '../helpers/db.js';
import { connect, Subscription } from '../helpers/ws.js';
import {
  ChannelEventsDocument,
  CreateWorkspaceDocument,
  SendMessageDocument,
  SignUpDocument,
  type ChannelEventsSubscription,
} from '../generated/gql/graphql.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `npm start` exactly as a user runs it, as a real process; `pid` is the node process's own. */
class NpmStart {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  private constructor(readonly proc: ChildProcess) {
    this.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
  }
  url = '';
  pid = 0;

  static async start(env: Record<string, string>) {
    const proc = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const s = new NpmStart(proc);
    const text = () => s.output.join('');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not get ready:\n${text()}`)), 60_000);
      const onData = (d: Buffer) => {
        s.output.push(d.toString());
        const url = /Chat API ready at (\S+)/.exec(text());
        const pid = /"pid":(\d+),"msg":"listening"/.exec(text());
        if (url && pid) {
          clearTimeout(timer);
          s.url = url[1]!;
          s.pid = Number(pid[1]);
          resolve();
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', (d: Buffer) => s.output.push(d.toString()));
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited with ${code}:\n${text()}`));
      });
    });
    return s;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describeApi('shutdown: SIGTERM drains and exits', () => {
  let db: TestDatabase;
  let dataDir: string;
  let env: Record<string, string>;
  const started: NpmStart[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'chat-shutdown-'));
    env =
      db.config.kind === 'postgres'
        ? { DATABASE_URL: db.config.url, SHUTDOWN_DRAIN_MS: '200' }
        : { DATA_DIR: dataDir, SHUTDOWN_DRAIN_MS: '200' };
  });
  afterAll(async () => {
    for (const s of started) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
    for (const s of started) if (alive(s.pid)) process.kill(s.pid, 'SIGKILL');
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('npm start: readiness, then SIGTERM closes sockets with 1012, exits 0 with no process left; the client resumes on the next process without losing a message', async () => {
    const first = await NpmStart.start(env);
    started.push(first);
    const base = first.url.replace(/\/graphql$/, '');
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: 'ok' } });

    const anon = new Client(first.url);
    const ann = (
      await anon.ok(SignUpDocument, { email: `ann-${testDbKind}@example.com`, password: 'correct horse', name: 'Ann' })
    ).signUp;
    const client = anon.withToken(ann.token);
    const general = (await client.ok(CreateWorkspaceDocument, { name: 'Acme' })).createWorkspace.channels.find(
      (c) => c.name === 'general',
    )!;
    const send = (c: Client, text: string) =>
      c.ok(SendMessageDocument, { input: { channelId: general.id, text } }).then((r) => r.sendMessage.id);
    const m0 = await send(client, 'hello');
    const ws = connect(first.url, ann.token);
    // From m0 on: m1 arrives exactly once, replayed or live.
    const sub = new Subscription<ChannelEventsSubscription>(ws.client, print(ChannelEventsDocument), {
      channelId: general.id,
      after: m0,
    });
    const m1 = await send(client, 'before the restart');
    await sub.until(() => sub.events.length === 1, 10_000, 'm1');

    first.proc.kill('SIGTERM'); // to npm, as a terminal or a supervisor would
    expect(await ws.closed).toMatchObject({ code: 1012 });
    expect(await first.exited).toBe(0);
    expect(alive(first.pid)).toBe(false);
    const log = first.output.join('');
    expect(log).toContain('shutting down: draining');
    expect(log).toContain('"msg":"stopped"');

    // The next process, on the same data: a message is sent before the client is back; it
    // resumes with `after` and gets exactly what it missed, then live messages.
    const second = await NpmStart.start(env);
    started.push(second);
    const again = new Client(second.url, ann.token);
    const m2 = await send(again, 'while the client was away');
    const ws2 = connect(second.url, ann.token);
    const resumed = new Subscription<ChannelEventsSubscription>(ws2.client, print(ChannelEventsDocument), {
      channelId: general.id,
      after: m1,
    });
    await resumed.until(() => resumed.events.length === 1, 10_000, 'replayed m2');
    const m3 = await send(again, 'after the restart');
    await resumed.until(() => resumed.events.length === 2, 10_000, 'live m3');
    const ids = resumed.events.map((e) => (e.channel.__typename === 'MessagePosted' ? e.channel.message.id : null));
    expect(ids).toEqual([m2, m3]);
    await ws2.dispose();
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(alive(second.pid)).toBe(false);
  }, 180_000);
});

describeApi('shutdown: drain in process', () => {
  it('completes a subscription served over Server-Sent Events (its `complete` event, then the end)', async () => {
    const t = await startTestApp({ SHUTDOWN_DRAIN_MS: '0' });
    const { ann, bob, general } = await basicWorkspace(t);
    const live = listenMark(t);
    const res = await fetch(t.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${ann.token}`,
      },
      body: JSON.stringify({
        query: 'subscription($c: ID!) { channel(channelId: $c) { __typename } }',
        variables: { c: general.id },
      }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const until = async (what: string) => {
      while (!text.includes(what)) {
        const { value, done } = await reader.read();
        if (done) return false;
        text += value;
      }
      return true;
    };
    await live(1);
    await bob.client.ok(SendMessageDocument, { input: { channelId: general.id, text: 'over SSE' } });
    expect(await until('MessagePosted')).toBe(true);
    await t.stop();
    expect(await until('event: complete')).toBe(true);
    expect((await reader.read()).done).toBe(true); // and the response ended
  }, 120_000);

  it('readiness turns 503 and new connections are refused at once, while a request in progress is answered', async () => {
    let arrived!: () => void;
    const held = new Promise<void>((r) => (arrived = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const t = await startTestApp(
      { SHUTDOWN_DRAIN_MS: '0' },
      {
        testHooks: {
          async beforeSendWrite({ nonce }) {
            if (nonce !== 'held') return;
            arrived();
            await gate;
          },
        },
      },
    );
    const { ann, general } = await basicWorkspace(t);
    expect((await t.app.ops.ready()).status).toBe(200);
    const inFlight = ann.client.request(SendMessageDocument, {
      input: { channelId: general.id, text: 'in flight', clientNonce: 'held' },
    });
    await held;
    const stopped = t.stop();
    expect(await t.app.ops.ready()).toEqual({ status: 503, body: { status: 'draining' } });
    await expect(fetch(t.url.replace(/\/graphql$/, '/health'))).rejects.toThrow();
    release();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.errors).toBeUndefined();
    expect(r.data?.sendMessage.text).toBe('in flight');
    await stopped;
  }, 120_000);
});
