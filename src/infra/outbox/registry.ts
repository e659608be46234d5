/**
 * Outbox consumers, each on its own: search indexing, file previews, notifications, outgoing
 * webhooks... several may want the same event kind, and each must succeed, fail and retry without
 * the others noticing (a webhook endpoint that is down must not make search re-index forever, nor
 * hold it back).
 *
 * How: domain writes still put ONE row in `outbox` per event, in the transaction of the change.
 * Before claiming, a worker fans new rows out to `outbox_deliveries`, one copy per registered
 * consumer of the row's kind, and marks the `outbox` row processed (= handed out). Each consumer
 * then runs its own outbox worker (outbox.worker.ts) over its own copies, with every guarantee of
 * that worker kept per consumer: at least once, SKIP LOCKED leases, per-aggregate order (fan-out
 * takes an event only when no older event of its aggregate is still waiting, and a consumer's
 * copies are ordered by event id), back-off, poison isolation, lag. Each consumer polls on its own
 * loop, so a slow one delays no other.
 *
 * HOW TO ADD A CONSUMER (in src/app.ts, the composition root, before `outbox.init()`):
 *
 *   outbox.register({
 *     name: 'webhooks',                         // stable: progress is stored under this name
 *     kinds: ['message.posted', 'message.edited'],
 *     handle: async (events) => { ... },        // events of ONE kind, in id order
 *   });
 *
 * `handle` resolving marks the batch done; throwing retries the whole batch later (a poison event
 * is then retried alone). It must be idempotent: `event.id` is the same for every consumer and
 * every retry, a good idempotency key. A consumer receives the events written after it was first
 * registered (and any still waiting in `outbox`); renaming one starts it afresh. Every process that
 * runs the worker (OUTBOX_WORKER=inline gateways, `npm run worker`) must register the same consumers.
 */
import type { Logger } from 'pino';
import type { PrismaClient } from '../db/database.js';
import {
  createOutboxWorker,
  type DrainResult,
  type OutboxEvent,
  type OutboxLag,
  type OutboxWorker,
} from './outbox.worker.js';

export interface OutboxConsumer {
  /** Unique and stable: the consumer's copies of events are stored under it. */
  name: string;
  kinds: readonly string[];
  /** Events of one kind, oldest first. Resolve: done; throw: retried with back-off. */
  handle(events: OutboxEvent[]): Promise<void>;
}

export interface OutboxRegistryOptions {
  prisma: PrismaClient;
  log: Logger;
  batchSize?: number;
  pollMs?: number;
  retentionHours?: number;
  /** Passed to each consumer's worker (tests shorten back-off and leases). */
  worker?: { leaseMs?: number; baseBackoffMs?: number; maxBackoffMs?: number; isolateAfterAttempts?: number };
}

export interface OutboxRegistry extends OutboxWorker {
  /** Adds a consumer; call before start()/drainOnce(). Throws on a duplicate name. */
  register(consumer: OutboxConsumer): void;
  readonly consumers: readonly string[];
  /** One consumer's backlog (its copies plus events not yet fanned out to it). */
  lagOf(name: string): Promise<OutboxLag>;
  /** Every consumer's backlog by name. */
  lagByConsumer(): Promise<Record<string, OutboxLag>>;
}

export function createOutboxRegistry(opts: OutboxRegistryOptions): OutboxRegistry {
  const { prisma, log } = opts;
  const batchSize = opts.batchSize ?? 200;
  const consumers = new Map<string, OutboxConsumer>();
  const workers = new Map<string, OutboxWorker>();
  let running = false;
  let lastPurge = 0;

  /**
   * Hands new outbox rows to every consumer of their kind, in one statement: the oldest pending
   * rows are taken with SKIP LOCKED, except those with an older row of the same aggregate that
   * another worker holds, so a consumer never has a later copy of an aggregate's event without the
   * earlier ones (its claim then orders them by event id).
   */
  async function fanOut(): Promise<number> {
    if (consumers.size === 0) return 0;
    const names: string[] = [];
    const kindsOf: string[] = [];
    for (const c of consumers.values())
      for (const k of c.kinds) {
        names.push(c.name);
        kindsOf.push(k);
      }
    const all = [...new Set(kindsOf)];
    const n = await prisma.$executeRaw`
      WITH cand AS (
        SELECT o.id, o.aggregate_id FROM outbox o
        WHERE o.processed_at IS NULL AND o.kind = ANY(${all}::text[])
        ORDER BY o.id
        LIMIT ${batchSize}
        FOR UPDATE SKIP LOCKED
      ), src AS (
        -- cand is the oldest unlocked pending rows, so an older pending row of the same aggregate
        -- outside it is being fanned out by another worker right now: wait for it.
        SELECT c.id FROM cand c
        WHERE NOT EXISTS (
          SELECT 1 FROM outbox p
          WHERE p.aggregate_id = c.aggregate_id AND p.processed_at IS NULL AND p.id < c.id
            AND p.kind = ANY(${all}::text[]) AND p.id NOT IN (SELECT id FROM cand))
      ), fanned AS (
        INSERT INTO outbox_deliveries (event_id, consumer, kind, aggregate_id, payload, created_at)
        SELECT o.id, c.consumer, o.kind, o.aggregate_id, o.payload, o.created_at
        FROM src JOIN outbox o ON o.id = src.id
          JOIN unnest(${names}::text[], ${kindsOf}::text[]) AS c(consumer, kind) ON c.kind = o.kind
        ORDER BY o.id
        ON CONFLICT (consumer, event_id) DO NOTHING
      )
      UPDATE outbox SET processed_at = now(), attempts = outbox.attempts + 1, last_error = NULL
      FROM src WHERE outbox.id = src.id`;
    const retentionHours = opts.retentionHours ?? 168;
    const now = Date.now();
    if (retentionHours > 0 && now - lastPurge >= 600_000) {
      lastPurge = now;
      await prisma.$executeRaw`
        DELETE FROM outbox WHERE id IN (
          SELECT id FROM outbox WHERE processed_at IS NOT NULL AND processed_at < now() - ${retentionHours}::float8 * interval '1 hour'
          ORDER BY id LIMIT 10000)`;
    }
    return n;
  }

  function workerFor(c: OutboxConsumer): OutboxWorker {
    const handlers = Object.fromEntries(c.kinds.map((k) => [k, (events: OutboxEvent[]) => c.handle(events)]));
    return createOutboxWorker({
      prisma,
      handlers,
      consumer: c.name,
      beforeClaim: fanOut,
      log: log.child({ consumer: c.name }),
      batchSize,
      pollMs: opts.pollMs,
      retentionHours: opts.retentionHours,
      ...opts.worker,
    });
  }

  const sum = (lags: OutboxLag[]): OutboxLag => {
    const oldest = lags
      .map((l) => l.oldestPendingAt)
      .filter((d): d is Date => d !== null)
      .sort((a, b) => a.getTime() - b.getTime())[0];
    return {
      pending: lags.reduce((a, l) => a + l.pending, 0),
      retrying: lags.reduce((a, l) => a + l.retrying, 0),
      oldestPendingAt: oldest ?? null,
      lagMs: Math.max(0, ...lags.map((l) => l.lagMs)),
    };
  };

  return {
    register(consumer) {
      if (!/^[a-z][a-z0-9_.-]{0,62}$/.test(consumer.name))
        throw new Error(`outbox consumer name "${consumer.name}": lowercase letters, digits, _ . - only`);
      if (consumers.has(consumer.name)) throw new Error(`outbox consumer "${consumer.name}" is registered twice`);
      if (consumer.kinds.length === 0) throw new Error(`outbox consumer "${consumer.name}" handles no kinds`);
      consumers.set(consumer.name, consumer);
      const w = workerFor(consumer);
      workers.set(consumer.name, w);
      if (running) w.start();
    },
    get consumers() {
      return [...consumers.keys()];
    },
    get kinds() {
      return [...new Set([...consumers.values()].flatMap((c) => c.kinds))];
    },
    get running() {
      return running;
    },
    start() {
      if (running) return;
      running = true;
      for (const w of workers.values()) w.start();
    },
    async stop() {
      running = false;
      await Promise.all([...workers.values()].map((w) => w.stop()));
    },
    async drainOnce(): Promise<DrainResult> {
      const total: DrainResult = { claimed: 0, processed: 0, failed: 0 };
      for (const w of workers.values()) {
        const r = await w.drainOnce();
        total.claimed += r.claimed;
        total.processed += r.processed;
        total.failed += r.failed;
      }
      return total;
    },
    wake() {
      for (const w of workers.values()) w.wake();
    },
    async lag() {
      return sum(await Promise.all([...workers.values()].map((w) => w.lag())));
    },
    async lagOf(name) {
      const w = workers.get(name);
      if (!w) throw new Error(`no outbox consumer "${name}"`);
      return w.lag();
    },
    async lagByConsumer() {
      const out: Record<string, OutboxLag> = {};
      for (const [name, w] of workers) out[name] = await w.lag();
      return out;
    },
  };
}
