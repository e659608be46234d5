/**
 * The soak benchmark's load generator (a forked child of bench/soak.bench.ts): raw
 * graphql-transport-ws clients on `ws`. Every socket holds a `badges` subscription (online:
 * presence); a share of them also view #general (`channel`) and #random channels' typing. Each tick
 * some sockets type, set presence, send a message over the socket, or drop and reconnect (and
 * resubscribe with `after`). Counts are reported to the parent every second.
 */
import WebSocket from 'ws';

export interface SoakLoadConfig {
  url: string;
  tokens: string[];
  channelIds: string[];
  /** Per second, across all sockets. */
  sendsPerS: number;
  typingPerS: number;
  presencePerS: number;
  reconnectsPerS: number;
  viewersShare: number;
  connectBatch: number;
}

export interface SoakCounts {
  open: number;
  connects: number;
  reconnects: number;
  frames: number;
  sendsAcked: number;
  opErrors: number;
  closes: Record<string, number>;
}

type ToChild = { type: 'start'; config: SoakLoadConfig } | { type: 'stop' };
type FromChild = { type: 'ready'; counts: SoakCounts } | { type: 'counts'; counts: SoakCounts };

const counts: SoakCounts = {
  open: 0,
  connects: 0,
  reconnects: 0,
  frames: 0,
  sendsAcked: 0,
  opErrors: 0,
  closes: {},
};

class SoakSocket {
  ws: WebSocket | null = null;
  lastSeen: string | null = null;
  private op = 0;
  private stopping = false;
  /** Operations only on an acknowledged connection (before the ack the server closes with 4401). */
  private acked = false;

  constructor(
    private readonly cfg: SoakLoadConfig,
    private readonly token: string,
    private readonly channelId: string,
    private readonly viewer: boolean,
  ) {}

  connect(): Promise<void> {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.cfg.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      this.ws = ws;
      let acked = false;
      ws.on('open', () =>
        ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${this.token}` } })),
      );
      ws.on('message', (data: Buffer) => {
        counts.frames++;
        const m = JSON.parse(data.toString()) as { type: string; id?: string; payload?: unknown };
        if (m.type === 'connection_ack') {
          acked = true;
          this.acked = true;
          counts.open++;
          counts.connects++;
          this.subscribe('badges', 'subscription { badges { __typename } }', {});
          if (this.viewer)
            this.subscribe(
              'channel',
              'subscription C($c: ID!, $after: ID) { channel(channelId: $c, after: $after) { __typename ... on MessagePosted { message { id } } } }',
              { c: this.channelId, after: this.lastSeen },
            );
          resolve();
        } else if (m.type === 'next' && m.id === 'channel') {
          const id = (m.payload as { data?: { channel?: { message?: { id: string } } } }).data?.channel?.message?.id;
          if (id) this.lastSeen = id;
        } else if (m.type === 'next' && m.id?.startsWith('send')) {
          if ((m.payload as { errors?: unknown }).errors) counts.opErrors++;
          else counts.sendsAcked++;
        } else if (m.type === 'next' && (m.payload as { errors?: unknown }).errors) {
          counts.opErrors++;
        } else if (m.type === 'error') {
          counts.opErrors++;
        }
      });
      ws.on('close', (code) => {
        this.acked = false;
        if (acked) counts.open--;
        counts.closes[code] = (counts.closes[code] ?? 0) + 1;
        if (!acked) resolve();
        this.ws = null;
        if (!this.stopping && code !== 1000) setTimeout(() => void this.connect(), 1_000 + Math.random() * 2_000);
      });
      ws.on('error', () => {});
    });
  }

  private subscribe(id: string, query: string, variables: Record<string, unknown>) {
    this.ws?.send(JSON.stringify({ type: 'subscribe', id, payload: { query, variables } }));
  }

  operation(prefix: string, query: string, variables: Record<string, unknown>) {
    if (!this.acked || this.ws?.readyState !== WebSocket.OPEN) return;
    this.subscribe(`${prefix}-${++this.op}`, query, variables);
  }

  /** Drops the connection (no close handshake) and reconnects at once, resuming with `after`. */
  async reconnect() {
    if (!this.ws) return;
    this.stopping = true;
    const ws = this.ws;
    await new Promise<void>((r) => {
      ws.once('close', () => r());
      ws.terminate();
    });
    this.stopping = false;
    counts.reconnects++;
    await this.connect();
  }

  stop() {
    this.stopping = true;
    this.ws?.close(1000);
  }
}

function pick<T>(list: T[]): T {
  return list[Math.floor(Math.random() * list.length)]!;
}

/** Calls fn `perS` times a second on average (fractional rates accumulate). */
function every(perS: number, fn: () => void) {
  let owed = 0;
  const timer = setInterval(() => {
    owed += perS / 10;
    for (; owed >= 1; owed--) fn();
  }, 100);
  return () => clearInterval(timer);
}

async function run(cfg: SoakLoadConfig, send: (m: FromChild) => void) {
  const sockets = cfg.tokens.map(
    (token, i) => new SoakSocket(cfg, token, cfg.channelIds[0]!, i < cfg.tokens.length * cfg.viewersShare),
  );
  for (let i = 0; i < sockets.length; i += cfg.connectBatch)
    await Promise.all(sockets.slice(i, i + cfg.connectBatch).map((s) => s.connect()));
  send({ type: 'ready', counts });
  let sent = 0;
  const stops = [
    every(cfg.sendsPerS, () =>
      pick(sockets).operation('send', 'mutation S($input: SendMessageInput!) { sendMessage(input: $input) { id } }', {
        input: { channelId: cfg.channelIds[0], text: `soak ${++sent}`, clientNonce: `soak-${process.pid}-${sent}` },
      }),
    ),
    every(cfg.typingPerS, () =>
      pick(sockets).operation('typing', 'mutation T($c: ID!) { typing(channelId: $c) }', { c: pick(cfg.channelIds) }),
    ),
    every(cfg.presencePerS, () =>
      pick(sockets).operation('presence', 'mutation P($s: PresenceStatus!) { setPresence(status: $s) { status } }', {
        s: pick(['AUTO', 'AWAY']),
      }),
    ),
    every(cfg.reconnectsPerS, () => void pick(sockets).reconnect()),
  ];
  const report = setInterval(() => send({ type: 'counts', counts }), 1_000);
  return () => {
    for (const s of stops) s();
    clearInterval(report);
    for (const s of sockets) s.stop();
  };
}

if (process.send) {
  const send = (m: FromChild) => process.send?.(m);
  let stop: (() => void) | null = null;
  process.on('message', (raw) => {
    const m = raw as ToChild;
    if (m.type === 'start') void run(m.config, send).then((s) => (stop = s));
    if (m.type === 'stop') {
      stop?.();
      send({ type: 'counts', counts });
      setTimeout(() => process.exit(0), 500);
    }
  });
}
