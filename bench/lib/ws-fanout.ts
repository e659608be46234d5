/**
 * The load generator of bench:fanout, run as a separate process (forked via tsx by
 * `startFanoutClient`): thousands of WebSocket connections speaking graphql-transport-ws
 * (a minimal raw client on `ws`, lighter than the official client at 10,000 sockets), plus a
 * paced HTTP sender of `sendMessage` mutations. Both the send times and the receive times are
 * taken here with `performance.now()`, so send-to-viewer latency uses one clock.
 *
 * Per phase it counts, from what actually arrives on the sockets:
 *  - full pushes: `next` frames of the `channel` subscription (MessagePosted), checked per viewer
 *    and message (no duplicates, none missing, none from another phase);
 *  - badge frames: `next` frames of the `badges` subscription, per connection, with the channel's
 *    unread count they carry (the last one per connection is returned, for the parent to check
 *    against the database: `checkBadgeCounts`);
 *  - bytes: WebSocket frame bytes received (payload + frame header), by kind, and the TCP bytes
 *    the sockets read (`bytesRead`, which also counts control frames);
 *  - latency: receipt at each viewer minus the start of that message's HTTP send.
 *
 * Only loopback targets; every wait has a deadline. `phaseFailures` and `checkBadgeCounts` turn a
 * phase's counts into the list of wrong results the benchmarks fail on (bench/lib/failures.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type pg from 'pg';
import WebSocket from 'ws';
import { assertLoopback } from './http-load.js';
import { summarize, type Summary } from './stats.js';

// ---------------------------------------------------------------------------------------------
// Protocol between the bench (gateway process) and this load generator

export interface ConnectJob {
  /** http://127.0.0.1:port/graphql */
  url: string;
  /** Several gateways: connection i goes to urls[i % urls.length] (bench:cluster). */
  urls?: string[];
  /** One bearer token per connection. */
  tokens: string[];
  /** The first `viewers` connections also subscribe to the channel. */
  viewers: number;
  channelId: string;
  /** Connections opened concurrently. */
  batch: number;
  deadlineMs: number;
}

export interface ConnectResult {
  opened: number;
  failed: number;
  errorSamples: string[];
  durationMs: number;
}

export interface SwitchJob {
  /** Complete the badges subscription on every connection ... */
  dropBadges: boolean;
  /** ... and subscribe every connection that is not yet viewing to the channel. */
  allView: boolean;
  channelId: string;
}

export interface PhaseJob {
  name: string;
  /**
   * Messages are sent over HTTP by this process (`send`), or injected into the gateway by the
   * parent (`inject`: the client arms its counters, replies, and then only receives; the parent
   * has written the messages, texts tagged like sent ones, and publishes their MessagePosted
   * events straight into the gateway's pub/sub).
   */
  mode: 'send' | 'inject';
  /** The tag embedded in sent texts (`fo<tag><seq>:`), one letter per phase. */
  tag: string;
  messages: number;
  /** Messages per second; 0 = as fast as `concurrency` senders go. */
  rate: number;
  /**
   * Inject only: the parent publishes message i at (its start + i × paceMs) instead of all at
   * once, and latency counts from that due time (0: a burst, latency from its start).
   */
  paceMs?: number;
  concurrency: number;
  url: string;
  senderTokens: string[];
  channelId: string;
  /** Filler appended to every text after the tag, to make realistic message sizes. */
  filler: string;
  /** Full pushes expected per message (viewing connections). */
  viewers: number;
  /** The badge flush window of the server (for the "at most one per window" check). */
  flushMs: number;
  /** After the last full push, wait this long without any frame before closing the phase. */
  quietMs: number;
  /** No send starts after this (from the phase start): the phase reports how many went out. */
  sendBudgetMs: number;
  /** After the last send returned: the longest wait for the pushes still due and the quiet period. */
  drainMs: number;
}

export interface PhaseResult {
  name: string;
  mode: 'send' | 'inject';
  /** Messages the phase was asked to send (or inject). */
  requested: number;
  sent: number;
  sendErrors: number;
  sendErrorSamples: string[];
  /** HTTP sendMessage round trips (request written -> response read). */
  ack: Summary;
  /** First send start -> last send start (the pacing). */
  sendSpanMs: number;
  /** First send start (or the arming, for inject) -> last frame of the phase received. */
  windowMs: number;
  /** First send start -> last full push received. */
  fullWindowMs: number;
  fullPushes: number;
  expectedFullPushes: number;
  duplicates: number;
  missing: number;
  /** Full pushes carrying another phase's tag or an unknown sequence. */
  strays: number;
  /** Frames checked in full (JSON.parse and shape), one per viewer at least. */
  validated: number;
  invalid: number;
  invalidSamples: string[];
  badgeFrames: number;
  badgeConnections: number;
  maxBadgeFramesPerConnection: number;
  /** Badge frames that arrived on connections viewing the channel (should be 0). */
  badgeFramesOnViewers: number;
  /** Smallest gap between two badge frames of one connection. */
  minBadgeGapMs: number;
  /** Listed messages this load generator has sent so far (all phases): informational only. */
  unreadExpected: number;
  /**
   * Per connection (by token index): the channel's unread count in the last badge frame received
   * (-1: no frame yet), or NOT_CHECKED for connections without badges, viewing, or closed.
   * Compared with the database by `checkBadgeCounts`.
   */
  badgeUnread: number[];
  fullBytes: number;
  badgeBytes: number;
  otherFrames: number;
  otherBytes: number;
  otherSamples: string[];
  /** Other frames that are not pings: errors, completes, anything the phase did not ask for. */
  unexpectedFrames: number;
  tcpBytes: number;
  latency: Summary;
  /** Connections closed by the server during the phase. */
  closed: number;
  closeSamples: string[];
  clientCpuMs: number;
  clientLoopDelay: { p50: number; p99: number; max: number };
  /** The send budget ran out before every message was sent. */
  sendTruncated: boolean;
  /** Frames from earlier phases still arriving before this one started (waited out, not counted). */
  preFrames: number;
  /** The drain budget ran out before every push due arrived (or before a quiet period). */
  timedOut: boolean;
}

/** `PhaseResult.badgeUnread` of a connection whose badge count is not checked. */
export const NOT_CHECKED = -2;

type ToChild =
  | { type: 'connect'; id: number; job: ConnectJob }
  | { type: 'switch'; id: number; job: SwitchJob }
  | { type: 'phase'; id: number; job: PhaseJob }
  | { type: 'injected'; id: number }
  | { type: 'close'; id: number };
type FromChild =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'armed'; id: number }
  | { type: 'error'; id: number; message: string };

// ---------------------------------------------------------------------------------------------
// Child side

const PROTOCOL = 'graphql-transport-ws';
const BADGES_QUERY =
  'subscription Badges { badges { channels { channelId unreadCount mentionCount } threads { threadRootId channelId unreadCount } } }';
/** One small selection, the same for every viewer, so the server's shared rendering applies. */
const CHANNEL_QUERY =
  'subscription ChannelEvents($channelId: ID!) { channel(channelId: $channelId) { __typename ... on MessagePosted { message { id text createdAt author { id name } } } } }';
const SEND_MUTATION = 'mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { id } }';

const PREFIX_CHANNEL = Buffer.from('{"id":"c","type":"next","payload":');
const PREFIX_BADGES = Buffer.from('{"id":"b","type":"next","payload":');
const TEXT_MARKER = Buffer.from('"text":"fo');
const POSTED_MARKER = Buffer.from('"__typename":"MessagePosted"');

interface Conn {
  index: number;
  ws: WebSocket;
  viewing: boolean;
  badges: boolean;
  /** Last unread count of the channel seen in a badge frame (-1: none yet). */
  unread: number;
  badgeFrames: number;
  lastBadgeAt: number;
  /** Per phase: which message sequences arrived. */
  seen: Uint8Array | null;
  validatedThisPhase: boolean;
  closed: string | null;
}

const frameBytes = (len: number) => len + (len < 126 ? 2 : len < 65536 ? 4 : 10);

function tcpRead(ws: WebSocket): number {
  const s = (ws as unknown as { _socket?: { bytesRead?: number } })._socket;
  return s?.bytesRead ?? 0;
}

class Phase {
  fullPushes = 0;
  duplicates = 0;
  strays = 0;
  validated = 0;
  invalid = 0;
  invalidSamples: string[] = [];
  badgeFrames = 0;
  badgeFramesOnViewers = 0;
  minBadgeGapMs = Number.POSITIVE_INFINITY;
  fullBytes = 0;
  badgeBytes = 0;
  otherFrames = 0;
  otherBytes = 0;
  otherSamples: string[] = [];
  unexpectedFrames = 0;
  closed = 0;
  closeSamples: string[] = [];
  firstAt = 0;
  lastFrameAt = 0;
  lastFullAt = 0;
  latencies: Float64Array;
  nLat = 0;
  sendStart: Float64Array;
  /** Messages whose send succeeded (a push of a failed send is not "missing" when it never comes). */
  sentOk: Uint8Array;
  constructor(
    readonly job: PhaseJob | null,
    capacity: number,
  ) {
    this.latencies = new Float64Array(capacity);
    this.sendStart = new Float64Array(job?.messages ?? 0);
    this.sentOk = new Uint8Array(job?.messages ?? 0);
  }
}

function childMain() {
  const conns: Conn[] = [];
  let phase = new Phase(null, 0);
  let totalSentOk = 0; // listed messages this process sent (the channel's unread count for non-viewers)
  let waiters: (() => void)[] = [];
  const notify = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  /** Waits until check() or the deadline; re-checked on every frame and every 50 ms. */
  async function until(check: () => boolean, deadline: number): Promise<boolean> {
    while (!check()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 50));
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }

  function sample(list: string[], text: string) {
    if (list.length < 5) list.push(text.slice(0, 300));
  }

  function validateChannelFrame(c: Conn, data: Buffer) {
    const p = phase;
    p.validated++;
    try {
      const msg = JSON.parse(data.toString('utf8')) as {
        payload?: { data?: { channel?: { __typename?: string; message?: Record<string, unknown> } }; errors?: unknown };
      };
      const ev = msg.payload?.data?.channel;
      const m = ev?.message as
        { id?: string; text?: string; createdAt?: string; author?: { id?: string; name?: string } } | undefined;
      if (
        msg.payload?.errors ||
        ev?.__typename !== 'MessagePosted' ||
        !m?.id ||
        typeof m.text !== 'string' ||
        !m.createdAt ||
        !m.author?.id ||
        !m.author.name
      ) {
        p.invalid++;
        sample(p.invalidSamples, `conn ${c.index}: ${data.toString('utf8')}`);
      }
    } catch (err) {
      p.invalid++;
      sample(p.invalidSamples, `conn ${c.index}: unparsable (${(err as Error).message})`);
    }
  }

  function onChannelFrame(c: Conn, data: Buffer, now: number) {
    const p = phase;
    p.fullPushes++;
    p.fullBytes += frameBytes(data.length);
    p.lastFullAt = now;
    if (!c.validatedThisPhase) {
      c.validatedThisPhase = true;
      validateChannelFrame(c, data);
    } else if (data.indexOf(POSTED_MARKER) < 0) {
      p.invalid++;
      sample(p.invalidSamples, `conn ${c.index}: not a MessagePosted: ${data.toString('utf8')}`);
    }
    const job = p.job;
    if (!job) return;
    const at = data.indexOf(TEXT_MARKER);
    if (at < 0) {
      p.strays++;
      return;
    }
    let i = at + TEXT_MARKER.length;
    const tag = String.fromCharCode(data[i] as number);
    i++;
    let seq = 0;
    let digits = 0;
    for (; i < data.length; i++) {
      const ch = data[i] as number;
      if (ch < 48 || ch > 57) break;
      seq = seq * 10 + (ch - 48);
      digits++;
    }
    if (tag !== job.tag || digits === 0 || seq >= job.messages || !c.seen) {
      p.strays++;
      return;
    }
    if (c.seen[seq]) {
      p.duplicates++;
      return;
    }
    c.seen[seq] = 1;
    const start = p.sendStart[seq] as number;
    if (start > 0 && p.nLat < p.latencies.length) p.latencies[p.nLat++] = now - start;
  }

  function onBadgeFrame(c: Conn, data: Buffer, now: number, channelId: string) {
    const p = phase;
    p.badgeFrames++;
    p.badgeBytes += frameBytes(data.length);
    if (c.viewing) p.badgeFramesOnViewers++;
    if (c.lastBadgeAt > 0 && c.badgeFrames > 0) p.minBadgeGapMs = Math.min(p.minBadgeGapMs, now - c.lastBadgeAt);
    c.badgeFrames++;
    c.lastBadgeAt = now;
    try {
      const msg = JSON.parse(data.toString('utf8')) as {
        payload?: { data?: { badges?: { channels?: { channelId: string; unreadCount: number }[] } }; errors?: unknown };
      };
      const chans = msg.payload?.data?.badges?.channels;
      if (msg.payload?.errors || !Array.isArray(chans)) {
        p.invalid++;
        sample(p.invalidSamples, `conn ${c.index} badge: ${data.toString('utf8')}`);
        return;
      }
      for (const b of chans) if (b.channelId === channelId) c.unread = b.unreadCount;
    } catch (err) {
      p.invalid++;
      sample(p.invalidSamples, `conn ${c.index} badge: unparsable (${(err as Error).message})`);
    }
  }

  let channelIdForBadges = '';

  function openOne(job: ConnectJob, index: number, deadline: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const target = job.urls?.length ? job.urls[index % job.urls.length]! : job.url;
      const ws = new WebSocket(target.replace(/^http/, 'ws'), PROTOCOL, {
        perMessageDeflate: false,
        handshakeTimeout: 20_000,
      });
      const c: Conn = {
        index,
        ws,
        viewing: index < job.viewers,
        badges: true,
        unread: -1,
        badgeFrames: 0,
        lastBadgeAt: 0,
        seen: null,
        validatedThisPhase: false,
        closed: null,
      };
      let acked = false;
      const timer = setTimeout(
        () => {
          if (!acked) {
            ws.terminate();
            reject(new Error(`connection ${index}: no connection_ack before the deadline`));
          }
        },
        Math.max(1_000, deadline - performance.now()),
      );
      ws.on('open', () => {
        ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${job.tokens[index]}` } }));
      });
      ws.on('error', (err) => {
        if (!acked) {
          clearTimeout(timer);
          reject(new Error(`connection ${index}: ${err.message}`));
        }
      });
      ws.on('close', (code, reason) => {
        if (!acked) {
          clearTimeout(timer);
          reject(new Error(`connection ${index}: closed before ack (${code} ${String(reason)})`));
          return;
        }
        c.closed = `${code} ${String(reason)}`;
        phase.closed++;
        sample(phase.closeSamples, `conn ${index}: ${c.closed}`);
        notify();
      });
      ws.on('message', (data: Buffer) => {
        const now = performance.now();
        if (!acked) {
          const text = data.toString('utf8');
          if (text.includes('"connection_ack"')) {
            acked = true;
            clearTimeout(timer);
            ws.send(JSON.stringify({ id: 'b', type: 'subscribe', payload: { query: BADGES_QUERY } }));
            if (c.viewing)
              ws.send(
                JSON.stringify({
                  id: 'c',
                  type: 'subscribe',
                  payload: { query: CHANNEL_QUERY, variables: { channelId: job.channelId } },
                }),
              );
            resolve(c);
          }
          return;
        }
        const p = phase;
        if (p.firstAt === 0) p.firstAt = now;
        p.lastFrameAt = now;
        if (
          data.length > PREFIX_CHANNEL.length &&
          data.compare(PREFIX_CHANNEL, 0, PREFIX_CHANNEL.length, 0, PREFIX_CHANNEL.length) === 0
        ) {
          onChannelFrame(c, data, now);
        } else if (
          data.length > PREFIX_BADGES.length &&
          data.compare(PREFIX_BADGES, 0, PREFIX_BADGES.length, 0, PREFIX_BADGES.length) === 0
        ) {
          onBadgeFrame(c, data, now, channelIdForBadges);
        } else {
          p.otherFrames++;
          p.otherBytes += frameBytes(data.length);
          const text = data.toString('utf8');
          if (text.startsWith('{"type":"ping"')) ws.send('{"type":"pong"}');
          else {
            p.unexpectedFrames++;
            sample(p.otherSamples, `conn ${index}: ${text}`);
          }
        }
        notify();
      });
    });
  }

  async function connect(job: ConnectJob): Promise<ConnectResult> {
    assertLoopback(job.url);
    for (const u of job.urls ?? []) assertLoopback(u);
    channelIdForBadges = job.channelId;
    const t0 = performance.now();
    const deadline = t0 + job.deadlineMs;
    const errors: string[] = [];
    let failed = 0;
    for (let start = 0; start < job.tokens.length && performance.now() < deadline; start += job.batch) {
      const end = Math.min(job.tokens.length, start + job.batch);
      const batch = [];
      for (let i = start; i < end; i++) batch.push(openOne(job, i, deadline));
      const settled = await Promise.allSettled(batch);
      for (const s of settled) {
        if (s.status === 'fulfilled') conns.push(s.value);
        else {
          failed++;
          if (errors.length < 5) errors.push((s.reason as Error).message);
        }
      }
    }
    failed += job.tokens.length - conns.length - failed;
    return { opened: conns.length, failed, errorSamples: errors, durationMs: performance.now() - t0 };
  }

  function switchTo(job: SwitchJob) {
    let n = 0;
    for (const c of conns) {
      if (c.closed) continue;
      if (job.dropBadges && c.badges) {
        c.ws.send('{"id":"b","type":"complete"}');
        c.badges = false;
      }
      if (job.allView && !c.viewing) {
        c.ws.send(
          JSON.stringify({
            id: 'c',
            type: 'subscribe',
            payload: { query: CHANNEL_QUERY, variables: { channelId: job.channelId } },
          }),
        );
        c.viewing = true;
        n++;
      }
    }
    return {
      subscribed: n,
      viewing: conns.filter((c) => c.viewing && !c.closed).length,
      badges: conns.filter((c) => c.badges && !c.closed).length,
    };
  }

  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  function post(u: URL, token: string, body: string): Promise<{ id?: string; error?: string }> {
    return new Promise((resolve) => {
      const buf = Buffer.from(body);
      const req = http.request(
        {
          agent,
          hostname: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${token}`,
            'content-length': String(buf.length),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (ch: Buffer) => chunks.push(ch));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) return resolve({ error: `HTTP ${res.statusCode}: ${text.slice(0, 200)}` });
            try {
              const j = JSON.parse(text) as {
                data?: { sendMessage?: { id?: string } };
                errors?: { message?: string }[];
              };
              if (j.errors?.length) return resolve({ error: `GraphQL: ${j.errors[0]?.message}` });
              const id = j.data?.sendMessage?.id;
              resolve(id ? { id } : { error: `no id: ${text.slice(0, 200)}` });
            } catch {
              resolve({ error: `bad JSON: ${text.slice(0, 200)}` });
            }
          });
          res.on('error', (err) => resolve({ error: err.message }));
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('timeout after 30 s')));
      req.on('error', (err) => resolve({ error: err.message }));
      req.end(buf);
    });
  }

  async function runPhase(job: PhaseJob, arm: () => Promise<void>): Promise<PhaseResult> {
    // Start from an idle gateway: wait out frames still due from the previous phase.
    phase = new Phase(null, 0);
    const idleDeadline = performance.now() + job.drainMs;
    const idleStart = performance.now();
    await until(() => performance.now() - Math.max(phase.lastFrameAt, idleStart) >= job.quietMs, idleDeadline);
    const preFrames = phase.fullPushes + phase.badgeFrames + phase.otherFrames;
    const viewingConns = conns.filter((c) => c.viewing && !c.closed);
    const capacity = job.messages * Math.max(job.viewers, viewingConns.length);
    phase = new Phase(job, capacity);
    const p = phase;
    for (const c of conns) {
      c.badgeFrames = 0;
      c.lastBadgeAt = 0;
      c.validatedThisPhase = false;
      c.seen = c.viewing ? new Uint8Array(job.messages) : null;
    }
    const tcp0 = conns.reduce((s, c) => s + tcpRead(c.ws), 0);
    const cpu0 = process.cpuUsage();
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const t0 = performance.now();
    const sendDeadline = t0 + job.sendBudgetMs;
    const acks: number[] = [];
    const sendErrors: string[] = [];
    let nSendErrors = 0;
    let sent = 0;
    let firstSend = 0;
    let lastSend = 0;

    if (job.mode === 'send') {
      const u = assertLoopback(job.url);
      const interval = job.rate > 0 ? 1000 / job.rate : 0;
      let next = 0;
      const start = performance.now() + 20;
      await Promise.all(
        Array.from({ length: Math.min(job.concurrency, job.messages) }, async (_, w) => {
          const token = job.senderTokens[w % job.senderTokens.length] as string;
          while (next < job.messages && performance.now() < sendDeadline) {
            const i = next++;
            const due = start + i * interval;
            const wait = due - performance.now();
            if (wait > 1) await sleep(wait);
            const body = JSON.stringify({
              query: SEND_MUTATION,
              operationName: 'Send',
              variables: { input: { channelId: job.channelId, text: `fo${job.tag}${i}: ${job.filler}` } },
            });
            const s = performance.now();
            p.sendStart[i] = s;
            if (firstSend === 0 || s < firstSend) firstSend = s;
            if (s > lastSend) lastSend = s;
            const r = await post(u, token, body);
            acks.push(performance.now() - s);
            if (r.error) {
              nSendErrors++;
              if (sendErrors.length < 5) sendErrors.push(r.error);
            } else {
              sent++;
              p.sentOk[i] = 1;
            }
          }
        }),
      );
      totalSentOk += sent;
    } else {
      // The parent publishes every message at once (latency counts from the burst's start), or
      // paced: message i is due paceMs × i after the start, and its latency counts from then.
      firstSend = performance.now();
      const pace = job.paceMs ?? 0;
      lastSend = firstSend + pace * Math.max(0, job.messages - 1);
      if (pace > 0) for (let i = 0; i < job.messages; i++) p.sendStart[i] = firstSend + i * pace;
      else p.sendStart.fill(firstSend);
      p.sentOk.fill(1);
      await arm(); // the parent injects now; its reply comes back after the last publish
      sent = job.messages;
      totalSentOk += sent;
    }

    const expectedFull = sent * viewingConns.length;
    const deadline = performance.now() + job.drainMs;
    let timedOut = !(await until(() => p.fullPushes >= expectedFull, deadline));
    // Trailing badge frames: at most one more flush window after the last event.
    const quiet = await until(() => p.lastFrameAt > 0 && performance.now() - p.lastFrameAt >= job.quietMs, deadline);
    if (!quiet) timedOut = true;
    loop.disable();
    const cpu = process.cpuUsage(cpu0);
    const tcp1 = conns.reduce((s, c) => s + tcpRead(c.ws), 0);

    let missing = 0;
    {
      for (const c of viewingConns) {
        if (!c.seen) continue;
        for (let i = 0; i < c.seen.length; i++) if (!c.seen[i] && p.sentOk[i]) missing++;
      }
    }
    let badgeConnections = 0;
    let maxBadge = 0;
    const badgeUnread = new Array<number>(conns.reduce((n, c) => Math.max(n, c.index + 1), 0)).fill(NOT_CHECKED);
    for (const c of conns) {
      if (c.badgeFrames > 0) badgeConnections++;
      if (c.badgeFrames > maxBadge) maxBadge = c.badgeFrames;
      if (c.badges && !c.viewing && !c.closed) badgeUnread[c.index] = c.unread;
    }
    const windowEnd = Math.max(p.lastFrameAt, lastSend);
    const result: PhaseResult = {
      name: job.name,
      mode: job.mode,
      requested: job.messages,
      sent,
      sendErrors: nSendErrors,
      sendErrorSamples: sendErrors,
      ack: summarize(acks),
      sendSpanMs: lastSend - firstSend,
      windowMs: windowEnd - firstSend,
      fullWindowMs: (p.lastFullAt || lastSend) - firstSend,
      fullPushes: p.fullPushes,
      expectedFullPushes: expectedFull,
      duplicates: p.duplicates,
      missing,
      strays: p.strays,
      validated: p.validated,
      invalid: p.invalid,
      invalidSamples: p.invalidSamples,
      badgeFrames: p.badgeFrames,
      badgeConnections,
      maxBadgeFramesPerConnection: maxBadge,
      badgeFramesOnViewers: p.badgeFramesOnViewers,
      minBadgeGapMs: Number.isFinite(p.minBadgeGapMs) ? p.minBadgeGapMs : Number.NaN,
      unreadExpected: totalSentOk,
      badgeUnread,
      fullBytes: p.fullBytes,
      badgeBytes: p.badgeBytes,
      otherFrames: p.otherFrames,
      otherBytes: p.otherBytes,
      otherSamples: p.otherSamples,
      unexpectedFrames: p.unexpectedFrames,
      tcpBytes: tcp1 - tcp0,
      latency: summarize(p.latencies.subarray(0, p.nLat)),
      closed: p.closed,
      closeSamples: p.closeSamples,
      clientCpuMs: (cpu.user + cpu.system) / 1000,
      clientLoopDelay: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      sendTruncated: job.mode === 'send' && sent + nSendErrors < job.messages,
      preFrames,
      timedOut,
    };
    phase = new Phase(null, 0);
    for (const c of conns) c.seen = null;
    return result;
  }

  const send = (m: FromChild) => process.send?.(m);
  const injectedWaiters = new Map<number, () => void>();
  process.on('message', (raw) => {
    const msg = raw as ToChild;
    const reply = (work: unknown) =>
      Promise.resolve(work).then(
        (result) => send({ type: 'result', id: msg.id, result }),
        (err: unknown) =>
          send({ type: 'error', id: msg.id, message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
    switch (msg.type) {
      case 'connect':
        void reply(connect(msg.job));
        return;
      case 'switch':
        void reply(switchTo(msg.job));
        return;
      case 'phase':
        void reply(
          runPhase(
            msg.job,
            () =>
              new Promise<void>((resolve) => {
                injectedWaiters.set(msg.id, resolve);
                send({ type: 'armed', id: msg.id });
              }),
          ),
        );
        return;
      case 'injected':
        injectedWaiters.get(msg.id)?.();
        injectedWaiters.delete(msg.id);
        return;
      case 'close':
        for (const c of conns) c.ws.terminate();
        agent.destroy();
        void reply({ closed: conns.length });
        return;
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

// ---------------------------------------------------------------------------------------------
// Parent side

export interface FanoutClient {
  readonly pid: number | undefined;
  connect(job: ConnectJob): Promise<ConnectResult>;
  switchTo(job: SwitchJob): Promise<{ subscribed: number; viewing: number; badges: number }>;
  /** For `inject` phases, `inject` runs once the client has armed its counters. */
  phase(job: PhaseJob, inject?: () => Promise<void>): Promise<PhaseResult>;
  close(): Promise<void>;
}

/** Forks this module (via tsx) as the load-generator process. */
export async function startFanoutClient(): Promise<FanoutClient> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<
    number,
    { resolve: (r: unknown) => void; reject: (e: Error) => void; onArmed?: () => void }
  >();
  let exited = false;
  let nextId = 1;
  child.on('exit', (code, signal) => {
    exited = true;
    for (const p of pending.values()) p.reject(new Error(`load generator exited (code ${code}, signal ${signal})`));
    pending.clear();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('load generator did not start within 30 s')), 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('message', (raw) => {
      const msg = raw as FromChild;
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (msg.type === 'result') {
        pending.get(msg.id)?.resolve(msg.result);
        pending.delete(msg.id);
      } else if (msg.type === 'armed') {
        pending.get(msg.id)?.onArmed?.();
      } else if (msg.type === 'error') {
        pending.get(msg.id)?.reject(new Error(`load generator: ${msg.message}`));
        pending.delete(msg.id);
      }
    });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });

  type Request = Extract<ToChild, { type: 'connect' | 'switch' | 'phase' | 'close' }>;
  type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;
  function call<T>(msg: WithoutId<Request>, onArmed?: (id: number) => void): Promise<T> {
    if (exited) return Promise.reject(new Error('load generator has exited'));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, {
        resolve: resolve as (r: unknown) => void,
        reject,
        onArmed: onArmed ? () => onArmed(id) : undefined,
      });
      child.send({ ...msg, id });
    });
  }

  return {
    pid: child.pid,
    connect: (job) => call<ConnectResult>({ type: 'connect', job }),
    switchTo: (job) => call({ type: 'switch', job }),
    phase: (job, inject) =>
      call<PhaseResult>({ type: 'phase', job }, (id) => {
        const done = () => {
          if (!exited) child.send({ type: 'injected', id } satisfies ToChild);
        };
        (inject ? inject() : Promise.resolve()).then(done, done);
      }),
    async close() {
      if (exited) return;
      await Promise.race([call({ type: 'close' }), new Promise((r) => setTimeout(r, 10_000))]).catch(() => {});
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Checks: what makes a phase's result wrong (the benchmarks collect these in bench/lib/failures.ts)

/**
 * The wrong results of one phase: any send error, full pushes not exactly viewers x messages sent,
 * duplicates, missing or stray pushes, invalid or unexpected frames, connections the server
 * closed, a drain that timed out. A send budget running out (fewer messages sent than asked) is
 * not among them: that is the gateway saturating, a result the reports show as a goal missed.
 */
export function phaseFailures(label: string, r: PhaseResult): string[] {
  const f: string[] = [];
  const eg = (samples: string[]) => (samples.length ? `, e.g. ${samples.join(' | ')}` : '');
  if (r.sendErrors > 0) f.push(`${label}: ${r.sendErrors} send errors${eg(r.sendErrorSamples)}`);
  if (r.fullPushes !== r.expectedFullPushes)
    f.push(
      `${label}: ${r.fullPushes} full pushes, expected ${r.expectedFullPushes} (viewers x ${r.sent} messages sent)`,
    );
  if (r.duplicates > 0) f.push(`${label}: ${r.duplicates} duplicate full pushes`);
  if (r.missing > 0) f.push(`${label}: ${r.missing} full pushes missing (a viewer never got a message that was sent)`);
  if (r.strays > 0) f.push(`${label}: ${r.strays} stray full pushes (another phase's message, or an unknown one)`);
  if (r.invalid > 0) f.push(`${label}: ${r.invalid} invalid frames${eg(r.invalidSamples)}`);
  if (r.unexpectedFrames > 0) f.push(`${label}: ${r.unexpectedFrames} unexpected frames${eg(r.otherSamples)}`);
  if (r.closed > 0) f.push(`${label}: ${r.closed} connections closed by the server${eg(r.closeSamples)}`);
  if (r.timedOut) f.push(`${label}: the drain budget ran out before every push due arrived and the sockets went quiet`);
  return f;
}

export interface BadgeCheck {
  /** Connections checked: subscribed to badges, not viewing the channel, open. */
  checked: number;
  /** Of those, connections whose last badge frame's unread count is not the database's. */
  mismatches: number;
  mismatchSamples: string[];
}

/**
 * Checks every badge-subscribed, non-viewing connection's last unread count against the database:
 * the channel's messages with a sequence after the member's read position (`channel_members.
 * last_read_seq`), counted in `messages` (not taken from `channels.last_seq`, the server's own
 * bookkeeping). Run after the phase: no send in flight, the quiet period passed, so every badge
 * frame due has arrived. `userIds[i]` is the user of connection i (the token index).
 */
export async function checkBadgeCounts(
  pool: pg.Pool,
  channelId: string,
  userIds: readonly string[],
  r: PhaseResult,
): Promise<BadgeCheck> {
  const checkedConns: number[] = [];
  r.badgeUnread.forEach((unread, i) => {
    if (unread !== NOT_CHECKED) checkedConns.push(i);
  });
  const result: BadgeCheck = { checked: checkedConns.length, mismatches: 0, mismatchSamples: [] };
  if (checkedConns.length === 0) return result;
  const users = checkedConns.map((i) => userIds[i] as string);
  const reads = await pool.query<{ u: string; s: string }>(
    'SELECT user_id::text AS u, last_read_seq::text AS s FROM channel_members WHERE channel_id = $1 AND user_id = ANY($2::text[]::bigint[])',
    [channelId, users],
  );
  const readSeq = new Map(reads.rows.map((x) => [x.u, x.s]));
  const counts = await pool.query<{ s: string; n: number }>(
    `SELECT r.s, (SELECT count(*) FROM messages m WHERE m.channel_id = $1 AND m.seq > r.s::bigint)::int AS n
     FROM unnest($2::text[]) AS r(s)`,
    [channelId, [...new Set(readSeq.values())]],
  );
  const unreadAfter = new Map(counts.rows.map((x) => [x.s, x.n]));
  for (const i of checkedConns) {
    const user = userIds[i] as string;
    const got = r.badgeUnread[i] as number;
    const seq = readSeq.get(user);
    const expected = seq === undefined ? undefined : unreadAfter.get(seq);
    // No badge frame at all is right only when nothing is unread.
    const ok = expected !== undefined && (got === -1 ? expected === 0 : got === expected);
    if (ok) continue;
    result.mismatches++;
    if (result.mismatchSamples.length < 3) {
      result.mismatchSamples.push(
        `conn ${i} (user ${user}): ${got === -1 ? 'no badge frame' : `last badge unread ${got}`}, database ${expected ?? 'not a member'}`,
      );
    }
  }
  return result;
}

/** The checks' failures: wrong badge counts. */
export function badgeFailures(label: string, b: BadgeCheck): string[] {
  return b.mismatches > 0
    ? [
        `${label}: badge unread count differs from the database on ${b.mismatches} of ${b.checked} connections, e.g. ${b.mismatchSamples.join(' | ')}`,
      ]
    : [];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.send) childMain();
