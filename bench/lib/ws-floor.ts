/**
 * The floor of bench:fanout: a bare process that holds the same sockets through `ws` and writes
 * the same pre-encoded frames to the same viewers, with no GraphQL, no database and no pub/sub.
 * It speaks just enough graphql-transport-ws for the load generator (connection_ack; remembers
 * which connections subscribed to the channel as id "c"); an `inject` command writes `n`
 * MessagePosted frames shaped like the gateway's (same query, same field order, same sizes) to
 * every viewer: each payload encoded once, then one raw write per viewer, each message in its
 * own event-loop turn (as messages arriving one by one from pub/sub would be), or paced (`paceMs`:
 * message i at the start + i × paceMs, the offered rate of a send phase).
 *
 * Runs as a forked child (startFloor) so that it has an event loop and a core of its own, as the
 * gateway does.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FloorInject {
  tag: string;
  n: number;
  filler: string;
  authorId: string;
  authorName: string;
  /** Message i is written at (start + i × paceMs); 0 or absent: one per event-loop turn, at once. */
  paceMs?: number;
}

type ToFloor = { type: 'inject'; id: number; job: FloorInject } | { type: 'stats'; id: number };
type FromFloor =
  | { type: 'ready'; port: number }
  | { type: 'done'; id: number; result: { frames: number; viewers: number; cpuMs: number; rssBytes: number } };

function floorMain() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 64 * 1024 });
  const viewers = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      if (text.includes('"connection_init"')) ws.send('{"type":"connection_ack"}');
      else if (text.includes('"subscribe"') && text.includes('"id":"c"')) viewers.add(ws);
    });
    ws.on('close', () => viewers.delete(ws));
    ws.on('error', () => {});
  });
  const prefix = Buffer.from('{"id":"c","type":"next","payload":');
  const suffix = Buffer.from('}');
  const send = (m: FromFloor) => process.send?.(m);
  process.on('message', (raw) => {
    const msg = raw as ToFloor;
    if (msg.type === 'stats') {
      send({
        type: 'done',
        id: msg.id,
        result: { frames: 0, viewers: viewers.size, cpuMs: 0, rssBytes: process.memoryUsage().rss },
      });
      return;
    }
    void (async () => {
      const cpu0 = process.cpuUsage();
      const { tag, n, filler, authorId, authorName, paceMs = 0 } = msg.job;
      const targets = [...viewers];
      let frames = 0;
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        const wait = start + i * paceMs - performance.now();
        if (paceMs > 0 && wait > 0) await sleep(wait);
        const payload = Buffer.from(
          JSON.stringify({
            data: {
              channel: {
                __typename: 'MessagePosted',
                message: {
                  id: String(9_000_000_000_000 + i),
                  text: `fo${tag}${i}: ${filler}`,
                  createdAt: new Date().toISOString(),
                  author: { id: authorId, name: authorName },
                },
              },
            },
          }),
        );
        const frame = Buffer.concat([prefix, payload, suffix]);
        for (const ws of targets) {
          if (ws.readyState !== ws.OPEN) continue;
          ws.send(frame, { binary: false });
          frames++;
        }
        if (paceMs <= 0) await nextTurn();
      }
      const cpu = process.cpuUsage(cpu0);
      send({
        type: 'done',
        id: msg.id,
        result: {
          frames,
          viewers: targets.length,
          cpuMs: (cpu.user + cpu.system) / 1000,
          rssBytes: process.memoryUsage().rss,
        },
      });
    })();
  });
  process.on('disconnect', () => process.exit(0));
  wss.on('listening', () => send({ type: 'ready', port: (wss.address() as AddressInfo).port }));
}

export interface Floor {
  /** ws://127.0.0.1:port/graphql-shaped URL for the load generator (any path is accepted). */
  url: string;
  inject(job: FloorInject): Promise<{ frames: number; viewers: number; cpuMs: number; rssBytes: number }>;
  stats(): Promise<{ viewers: number; rssBytes: number }>;
  close(): void;
}

export async function startFloor(): Promise<Floor> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (r: Extract<FromFloor, { type: 'done' }>['result']) => void>();
  let nextId = 1;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('floor process did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`floor process exited (${code})`)));
    child.on('message', (raw) => {
      const m = raw as FromFloor;
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m.port);
      } else {
        pending.get(m.id)?.(m.result);
        pending.delete(m.id);
      }
    });
  });
  const ask = (m: Omit<Extract<ToFloor, { type: 'inject' }>, 'id'> | Omit<Extract<ToFloor, { type: 'stats' }>, 'id'>) =>
    new Promise<Extract<FromFloor, { type: 'done' }>['result']>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ ...m, id });
    });
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    inject: (job) => ask({ type: 'inject', job }),
    stats: async () => {
      const r = await ask({ type: 'stats' });
      return { viewers: r.viewers, rssBytes: r.rssBytes };
    },
    close: () => child.kill(),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.send) floorMain();
