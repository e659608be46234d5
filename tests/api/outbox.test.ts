/**
 * The outbox worker (src/infra/outbox/outbox.worker.ts) on the real database: several workers
 * without double work, retries with back-off, poison isolation, per-aggregate order, leases that
 * expire when a worker dies, and lag. Each test uses its own event kind, so tests (and any other
 * worker on the database) never take each other's rows.
 */
import { expect, it } from 'vitest';
import {
  createOutboxWorker,
  type OutboxEvent,
  type OutboxWorkerOptions,
} from '../../src/infra/outbox/outbox.worker.js';
import { describeApi } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { outboxLog as log, outboxTestDatabase } from '../helpers/outbox.js';

describeApi('outbox worker', () => {
  const t = outboxTestDatabase('test');
  const { newKind, insert } = t;
  const rows = (kind: string) => t.db.prisma.outboxEvent.findMany({ where: { kind }, orderBy: { id: 'asc' } });
  const worker = (
    kind: string,
    handler: (events: OutboxEvent[]) => Promise<void>,
    extra: Partial<OutboxWorkerOptions> = {},
  ) =>
    createOutboxWorker({
      prisma: t.db.prisma,
      handlers: { [kind]: handler },
      log,
      pollMs: 10,
      batchSize: 25,
      ...extra,
    });

  it('lets several workers drain one outbox without doing any event twice', async () => {
    const kind = newKind();
    const n = 300;
    await insert(
      kind,
      Array.from({ length: n }, (_, i) => BigInt(i + 1)),
    );
    const handled = new Map<string, number>();
    const byWorker = [0, 0, 0];
    const workers = [0, 1, 2].map((wi) =>
      worker(kind, async (events) => {
        await new Promise((r) => setTimeout(r, 2));
        for (const e of events) handled.set(e.id.toString(), (handled.get(e.id.toString()) ?? 0) + 1);
        byWorker[wi]! += events.length;
      }),
    );
    for (const w of workers) w.start();
    await eventually(
      () => workers[0]!.lag(),
      (l) => l.pending === 0,
      30_000,
    );
    await Promise.all(workers.map((w) => w.stop()));
    expect(handled.size).toBe(n);
    expect([...handled.values()].every((v) => v === 1)).toBe(true);
    expect(byWorker.reduce((a, b) => a + b, 0)).toBe(n);
    const after = await rows(kind);
    expect(after.every((r) => r.processedAt !== null && r.attempts === 1 && r.lastError === null)).toBe(true);
  });

  it('retries failures with growing back-off, keeps the error, and isolates a poison event', async () => {
    const kind = newKind();
    await insert(kind, [1n, 2n, 3n, 666n]);
    const done: bigint[] = [];
    const w = worker(
      kind,
      (events) => {
        if (events.some((e) => e.aggregateId === 666n)) return Promise.reject(new Error('poison event 666'));
        done.push(...events.map((e) => e.aggregateId));
        return Promise.resolve();
      },
      { baseBackoffMs: 400, maxBackoffMs: 60_000, isolateAfterAttempts: 2 },
    );
    /** How far in the future each row's next attempt is (ms), by the database clock. */
    const waits = () =>
      t.db.prisma.$queryRaw<{ ms: number }[]>`
        SELECT (extract(epoch FROM available_at - now()) * 1000)::float8 AS ms FROM outbox WHERE kind = ${kind} ORDER BY id`.then(
        (r) => r.map((x) => x.ms),
      );
    const dueNow = () =>
      t.db.prisma.$executeRaw`UPDATE outbox SET available_at = now() WHERE kind = ${kind} AND processed_at IS NULL`;

    // Attempt 1 fails as a batch (the poison event is in it): all four back off ~400 ms (±25 %).
    expect(await w.drainOnce()).toEqual({ claimed: 4, processed: 0, failed: 4 });
    expect((await waits()).every((ms) => ms > 250 && ms <= 500)).toBe(true);
    expect(await w.drainOnce()).toEqual({ claimed: 0, processed: 0, failed: 0 }); // backing off
    let r = await rows(kind);
    expect(
      r.every((x) => x.attempts === 1 && x.lastError === 'Error: poison event 666' && x.processedAt === null),
    ).toBe(true);

    // Attempt 2 (all due together again): still one batch, fails; the back-off doubles.
    await dueNow();
    expect(await w.drainOnce()).toEqual({ claimed: 4, processed: 0, failed: 4 });
    expect((await waits()).every((ms) => ms > 550 && ms <= 1_000)).toBe(true);

    // Attempt 3: past isolateAfterAttempts every event runs alone, so the poison one holds no one back.
    await dueNow();
    expect(await w.drainOnce()).toEqual({ claimed: 4, processed: 3, failed: 1 });
    expect(done.sort()).toEqual([1n, 2n, 3n]);
    r = await rows(kind);
    const poison = r.find((x) => x.aggregateId === 666n)!;
    expect(poison).toMatchObject({ processedAt: null, attempts: 3, lastError: 'Error: poison event 666' });
    expect(r.filter((x) => x.aggregateId !== 666n).every((x) => x.processedAt !== null && x.lastError === null)).toBe(
      true,
    );
    expect(await w.lag()).toMatchObject({ pending: 1, retrying: 1 });
  });

  it('keeps events of one aggregate in order, even across workers', async () => {
    const kind = newKind();
    await insert(kind, [7n, 7n, 8n]);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seenA: bigint[] = [];
    const a = worker(
      kind,
      async (events) => {
        seenA.push(...events.map((e) => e.id));
        await gate;
      },
      { batchSize: 1 },
    );
    const seenB: OutboxEvent[] = [];
    const b = worker(kind, (events) => {
      seenB.push(...events);
      return Promise.resolve();
    });
    const running = a.drainOnce(); // takes the first event of aggregate 7 and holds it
    await eventually(
      () => Promise.resolve(seenA.length),
      (n) => n === 1,
    );
    await b.drainOnce(); // may take aggregate 8, never the second event of 7
    expect(seenB.map((e) => e.aggregateId)).toEqual([8n]);
    release();
    await running;
    await b.drainOnce();
    const r = await rows(kind);
    expect(seenB.map((e) => e.id)).toEqual([r[2]!.id, r[1]!.id]);
    expect(r.every((x) => x.processedAt !== null)).toBe(true);
  });

  it('gives a dead worker’s events to another once the lease runs out', async () => {
    const kind = newKind();
    await insert(kind, [42n]);
    let deadStarted = false;
    const dead = worker(
      kind,
      () => {
        deadStarted = true;
        return new Promise<void>(() => {}); // never finishes, like a worker that died holding the event
      },
      { leaseMs: 300 },
    );
    void dead.drainOnce();
    await eventually(
      () => Promise.resolve(deadStarted),
      (v) => v,
    );
    const handled: bigint[] = [];
    const alive = worker(
      kind,
      (events) => {
        handled.push(...events.map((e) => e.aggregateId));
        return Promise.resolve();
      },
      { leaseMs: 300 },
    );
    await eventually(
      async () => (await alive.drainOnce()).claimed,
      () => handled.length > 0,
    );
    expect(await alive.drainOnce()).toEqual({ claimed: 0, processed: 0, failed: 0 });
    await eventually(
      async () => {
        await alive.drainOnce();
        return handled.length;
      },
      (n) => n === 1,
      5_000,
      25,
    );
    expect(handled).toEqual([42n]);
    const [row] = await rows(kind);
    expect(row).toMatchObject({ attempts: 2 });
    expect(row!.processedAt).not.toBeNull();
  });

  it('reports lag: pending events and the age of the oldest', async () => {
    const kind = newKind();
    const w = worker(kind, async () => {});
    expect(await w.lag()).toEqual({ pending: 0, retrying: 0, oldestPendingAt: null, lagMs: 0 });
    await insert(kind, [1n], 5_000);
    await insert(kind, [2n]);
    const lag = await w.lag();
    expect(lag.pending).toBe(2);
    expect(lag.lagMs).toBeGreaterThanOrEqual(5_000);
    expect(lag.lagMs).toBeLessThan(60_000);
    await w.drainOnce();
    expect((await w.lag()).pending).toBe(0);
  });
});
