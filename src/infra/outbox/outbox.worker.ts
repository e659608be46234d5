/**
 * The transactional outbox consumer. Domain writes put a row in `outbox` in the same transaction
 * as the change (messages.service.ts); this worker hands those rows to handlers (search indexing
 * today) and marks them processed. Generic: handlers are registered per `kind`, and a worker only
 * ever claims the kinds it has handlers for.
 *
 * Guarantees:
 *  - At least once. A row is processed_at only after its handler resolved; a crash, a failed
 *    handler or a down backend leaves it pending, so nothing is lost and the outbox drains when
 *    the backend is back. Handlers must therefore be idempotent (search re-reads the current
 *    state of the message, so a replay is harmless).
 *  - No double work across workers. Rows are claimed with `FOR UPDATE SKIP LOCKED` and leased
 *    (available_at moves `leaseMs` ahead) in one statement; other workers skip locked and leased
 *    rows. Only a lease that expires while its handler is still running lets a row run twice.
 *  - Per-aggregate order. A row is claimed only when no older pending row of the same aggregate
 *    (and a handled kind) exists, so two workers never race on one message.
 *  - Retries with exponential back-off (plus jitter) up to `maxBackoffMs`, forever: an event is
 *    never dropped. Events that have failed `isolateAfterAttempts` times run one by one, so one
 *    poison event cannot hold back a batch. The last error is kept in `last_error`.
 *  - Lag is observable: lag() reports pending rows and the age of the oldest one; the worker logs
 *    it while there is a backlog.
 */
import type { Logger } from 'pino';
import { Prisma } from '../../generated/prisma/client.js';
import type { PrismaClient } from '../db/database.js';

export interface OutboxEvent {
  /** The outbox event's id: the same for every consumer of the event (an idempotency key). */
  id: bigint;
  kind: string;
  aggregateId: bigint;
  payload: unknown;
  /** Including the current attempt. */
  attempts: number;
  createdAt: Date;
}

/** Processes a batch of events of one kind; resolving marks them all processed, throwing retries them all. */
export type OutboxHandler = (events: OutboxEvent[]) => Promise<void>;

export interface OutboxWorkerOptions {
  prisma: PrismaClient;
  handlers: Record<string, OutboxHandler>;
  log: Logger;
  /**
   * A named consumer (registry.ts): the worker takes this consumer's copies of events from
   * `outbox_deliveries`, so it succeeds, fails and retries apart from other consumers of the same
   * kinds. Without one it takes rows of `outbox` itself (one consumer per kind).
   */
  consumer?: string;
  /** Runs before each claim (the registry fans new outbox rows out to consumers here). */
  beforeClaim?: () => Promise<unknown>;
  batchSize?: number;
  /** Sleep between polls when the outbox is empty. */
  pollMs?: number;
  leaseMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  isolateAfterAttempts?: number;
  /** Processed rows older than this are deleted from time to time (0: never). */
  retentionHours?: number;
  /** Log the backlog at most this often while there is one. */
  lagLogEveryMs?: number;
}

export interface OutboxLag {
  /** Pending rows of the handled kinds (including ones waiting for a retry). */
  pending: number;
  /** Pending rows that have failed at least once. */
  retrying: number;
  oldestPendingAt: Date | null;
  /** Age of the oldest pending row in ms (0 when none). */
  lagMs: number;
}

export interface DrainResult {
  claimed: number;
  processed: number;
  failed: number;
}

export interface OutboxWorker {
  readonly kinds: readonly string[];
  readonly running: boolean;
  /** Starts polling in the background (idempotent). */
  start(): void;
  /** Stops polling and waits for the batch in progress. */
  stop(): Promise<void>;
  /** Claims and processes one batch now; for tools and tests. */
  drainOnce(): Promise<DrainResult>;
  /** Polls without sleeping now (e.g. right after a write). */
  wake(): void;
  lag(): Promise<OutboxLag>;
}

interface ClaimedRow {
  id: bigint;
  kind: string;
  aggregate_id: bigint;
  payload: unknown;
  attempts: number;
  created_at: Date;
}

export function createOutboxWorker(opts: OutboxWorkerOptions): OutboxWorker {
  const { prisma, handlers, log } = opts;
  const kinds = Object.keys(handlers);
  const batchSize = opts.batchSize ?? 200;
  const pollMs = opts.pollMs ?? 200;
  const leaseMs = opts.leaseMs ?? 30_000;
  const baseBackoffMs = opts.baseBackoffMs ?? 500;
  const maxBackoffMs = opts.maxBackoffMs ?? 60_000;
  const isolateAfter = opts.isolateAfterAttempts ?? 3;
  const retentionHours = opts.retentionHours ?? 168;
  const lagLogEveryMs = opts.lagLogEveryMs ?? 10_000;
  const consumer = opts.consumer;
  // The rows this worker owns: `outbox` itself, or one consumer's copies in `outbox_deliveries`
  // (keyed by the event id, so per-aggregate order is the events' order).
  const table = consumer ? Prisma.raw('outbox_deliveries') : Prisma.raw('outbox');
  const key = consumer ? Prisma.raw('event_id') : Prisma.raw('id');
  const mine = (alias: string) =>
    consumer ? Prisma.sql`${Prisma.raw(alias)}.consumer = ${consumer}` : Prisma.sql`TRUE`;

  let running = false;
  let loop: Promise<void> | null = null;
  let wakeUp: (() => void) | null = null;
  let woken = false;
  let lastLagLog = 0;
  let lastPurge = 0;

  async function claim(): Promise<OutboxEvent[]> {
    if (opts.beforeClaim) await opts.beforeClaim();
    const rows = await prisma.$queryRaw<ClaimedRow[]>`
      WITH claimed AS (
        SELECT o.${key} AS key FROM ${table} o
        WHERE ${mine('o')} AND o.processed_at IS NULL AND o.available_at <= now() AND o.kind = ANY(${kinds}::text[])
          AND NOT EXISTS (
            SELECT 1 FROM ${table} p
            WHERE ${mine('p')} AND p.aggregate_id = o.aggregate_id AND p.processed_at IS NULL AND p.${key} < o.${key} AND p.kind = ANY(${kinds}::text[]))
        ORDER BY o.available_at, o.${key}
        LIMIT ${batchSize}
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${table} t SET attempts = t.attempts + 1, available_at = now() + ${leaseMs}::float8 * interval '1 millisecond'
      FROM claimed WHERE ${mine('t')} AND t.${key} = claimed.key
      RETURNING t.${key} AS id, t.kind, t.aggregate_id, t.payload, t.attempts, t.created_at`;
    return rows
      .map((r) => ({
        id: BigInt(r.id),
        kind: r.kind,
        aggregateId: BigInt(r.aggregate_id),
        payload: r.payload,
        attempts: Number(r.attempts),
        createdAt: r.created_at,
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async function markProcessed(ids: bigint[]) {
    await prisma.$executeRaw`UPDATE ${table} t SET processed_at = now(), last_error = NULL WHERE ${mine('t')} AND t.${key} = ANY(${ids}::bigint[])`;
  }

  async function scheduleRetry(ids: bigint[], err: unknown) {
    const message = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 1_000);
    await prisma.$executeRaw`
      UPDATE ${table} t SET last_error = ${message},
        available_at = now() + LEAST(${maxBackoffMs}::float8, ${baseBackoffMs}::float8 * power(2, LEAST(t.attempts - 1, 30)))
                       * (0.75 + random() * 0.5) * interval '1 millisecond'
      WHERE ${mine('t')} AND t.${key} = ANY(${ids}::bigint[])`;
  }

  /** Runs one handler call; returns the number of events it settled either way. */
  async function run(kind: string, events: OutboxEvent[], result: DrainResult) {
    const handler = handlers[kind]!;
    const ids = events.map((e) => e.id);
    try {
      await handler(events);
    } catch (err) {
      result.failed += events.length;
      const attempts = Math.max(...events.map((e) => e.attempts));
      const level = attempts >= 5 ? 'error' : 'warn';
      log[level](
        { err, consumer, kind, events: ids.length, attempts, firstId: ids[0]?.toString() },
        'outbox handler failed; will retry',
      );
      await scheduleRetry(ids, err);
      return;
    }
    await markProcessed(ids);
    result.processed += events.length;
  }

  async function drainOnce(): Promise<DrainResult> {
    const events = await claim();
    const result: DrainResult = { claimed: events.length, processed: 0, failed: 0 };
    if (events.length === 0) return result;
    const byKind = new Map<string, OutboxEvent[]>();
    const alone: OutboxEvent[] = [];
    for (const e of events) {
      if (e.attempts > isolateAfter) {
        alone.push(e);
        continue;
      }
      const list = byKind.get(e.kind);
      if (list) list.push(e);
      else byKind.set(e.kind, [e]);
    }
    for (const [kind, list] of byKind) await run(kind, list, result);
    for (const e of alone) await run(e.kind, [e], result);
    return result;
  }

  async function lag(): Promise<OutboxLag> {
    const [row] = await prisma.$queryRaw<
      { pending: number; retrying: number; oldest: Date | null; lag_ms: number | null }[]
    >`
      SELECT count(*)::int AS pending, (count(*) FILTER (WHERE attempts > 0 AND last_error IS NOT NULL))::int AS retrying,
        min(created_at) AS oldest, (extract(epoch FROM now() - min(created_at)) * 1000)::float8 AS lag_ms
      FROM (
        SELECT attempts, last_error, created_at FROM ${table} o
        WHERE ${mine('o')} AND processed_at IS NULL AND kind = ANY(${kinds}::text[])
        ${
          // A consumer also waits for the events not yet fanned out to it.
          consumer
            ? Prisma.sql`UNION ALL SELECT 0, NULL, created_at FROM outbox WHERE processed_at IS NULL AND kind = ANY(${kinds}::text[])`
            : Prisma.empty
        }
      ) pending`;
    return {
      pending: row?.pending ?? 0,
      retrying: row?.retrying ?? 0,
      oldestPendingAt: row?.oldest ?? null,
      lagMs: Math.max(0, Math.round(row?.lag_ms ?? 0)),
    };
  }

  async function housekeeping() {
    const now = Date.now();
    if (now - lastLagLog >= lagLogEveryMs) {
      lastLagLog = now;
      const l = await lag();
      if (l.pending > 0 && l.lagMs > 1_000) {
        log[l.lagMs > 60_000 ? 'warn' : 'info'](
          { consumer, pending: l.pending, retrying: l.retrying, lagMs: l.lagMs },
          'outbox backlog',
        );
      }
    }
    if (retentionHours > 0 && now - lastPurge >= 600_000) {
      lastPurge = now;
      // Oldest first by primary key: old rows are nearly all processed, so this stops early.
      const n = await prisma.$executeRaw`
        DELETE FROM ${table} WHERE id IN (
          SELECT id FROM ${table} o WHERE ${mine('o')} AND processed_at IS NOT NULL AND processed_at < now() - ${retentionHours}::float8 * interval '1 hour'
          ORDER BY id LIMIT 10000)`;
      if (n > 0) log.debug({ deleted: n }, 'outbox: purged processed rows');
    }
  }

  function sleep(ms: number): Promise<void> {
    if (woken) {
      woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = null;
        resolve();
      }
      wakeUp = done;
    });
  }

  async function main() {
    let failures = 0;
    while (running) {
      let full: boolean;
      try {
        const r = await drainOnce();
        full = r.claimed >= batchSize;
        await housekeeping();
        failures = 0;
      } catch (err) {
        failures++;
        if (!running) break;
        log.warn({ err, failures }, 'outbox worker: polling failed');
        await sleep(Math.min(pollMs * 2 ** Math.min(failures, 6), 10_000));
        continue;
      }
      if (!full && running) await sleep(pollMs);
    }
  }

  return {
    kinds,
    get running() {
      return running;
    },
    start() {
      if (running) return;
      running = true;
      log.info({ consumer, kinds, pollMs, batchSize }, 'outbox worker started');
      loop = main();
    },
    async stop() {
      if (!running) return;
      running = false;
      wakeUp?.();
      await loop;
      loop = null;
    },
    drainOnce,
    wake() {
      if (wakeUp) wakeUp();
      else woken = true;
    },
    lag,
  };
}
