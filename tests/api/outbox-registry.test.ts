/**
 * Several outbox consumers of the same kinds (src/infra/outbox/registry.ts) on the real database:
 * each gets every event once, fails and retries on its own, keeps per-aggregate order, and a
 * failing consumer neither blocks nor re-runs the others. Each test uses kinds of its own.
 */
import { expect, it } from 'vitest';
import { createOutboxRegistry } from '../../src/infra/outbox/registry.js';
import type { OutboxEvent } from '../../src/infra/outbox/outbox.worker.js';
import { describeApi } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { outboxLog as log, outboxTestDatabase } from '../helpers/outbox.js';

describeApi('outbox consumer registry', () => {
  const t = outboxTestDatabase('reg');
  const { newKind, insert } = t;
  const registry = () =>
    createOutboxRegistry({
      prisma: t.db.prisma,
      log,
      pollMs: 10,
      batchSize: 50,
      worker: { baseBackoffMs: 20, maxBackoffMs: 40, isolateAfterAttempts: 2 },
    });

  it('gives each consumer every event once; a failing consumer retries alone and blocks no one', async () => {
    const kind = newKind();
    const n = 40;
    await insert(
      kind,
      Array.from({ length: n }, (_, i) => BigInt(i + 1)),
    );
    const r = registry();
    const searchSeen = new Map<bigint, number>();
    let hooksUp = false;
    const hooksSeen = new Map<bigint, number>();
    let hookFailures = 0;
    r.register({
      name: 'search-test',
      kinds: [kind],
      handle: (events) => {
        for (const e of events) searchSeen.set(e.id, (searchSeen.get(e.id) ?? 0) + 1);
        return Promise.resolve();
      },
    });
    r.register({
      name: 'webhooks-test',
      kinds: [kind],
      handle: (events) => {
        if (!hooksUp) {
          hookFailures++;
          return Promise.reject(new Error('endpoint down'));
        }
        for (const e of events) hooksSeen.set(e.id, (hooksSeen.get(e.id) ?? 0) + 1);
        return Promise.resolve();
      },
    });
    expect(() => r.register({ name: 'search-test', kinds: [kind], handle: () => Promise.resolve() })).toThrow(
      /registered twice/,
    );
    r.start();
    try {
      await eventually(
        () => r.lagOf('search-test'),
        (l) => l.pending === 0,
      );
      // The webhook consumer has failed several rounds by now: search got each event exactly once.
      await eventually(
        () => Promise.resolve(hookFailures),
        (f) => f >= 3,
      );
      expect(searchSeen.size).toBe(n);
      expect([...searchSeen.values()].every((c) => c === 1)).toBe(true);
      const hooksLag = await r.lagOf('webhooks-test');
      expect(hooksLag).toMatchObject({ pending: n, retrying: n });
      const failed = await t.db.prisma.outboxDelivery.findMany({ where: { consumer: 'webhooks-test', kind } });
      expect(failed.every((d) => d.processedAt === null && d.lastError === 'Error: endpoint down')).toBe(true);
      // Every source row is handed out; search's copies are done and error-free.
      expect(await t.db.prisma.outboxEvent.count({ where: { kind, processedAt: null } })).toBe(0);
      expect(
        await t.db.prisma.outboxDelivery.count({
          where: { consumer: 'search-test', kind, processedAt: { not: null } },
        }),
      ).toBe(n);

      hooksUp = true;
      await eventually(
        () => r.lagOf('webhooks-test'),
        (l) => l.pending === 0,
      );
      expect(hooksSeen.size).toBe(n);
      expect([...hooksSeen.values()].every((c) => c === 1)).toBe(true);
      // Search was not run again by the webhook consumer's retries.
      expect([...searchSeen.values()].every((c) => c === 1)).toBe(true);
      expect((await r.lagByConsumer())['search-test']).toMatchObject({ pending: 0 });
    } finally {
      await r.stop();
    }
  });

  it('keeps per-aggregate order for each consumer and the same event id for all of them', async () => {
    const kind = newKind();
    await insert(kind, [7n, 8n, 7n, 7n, 8n]);
    const r = registry();
    const seen: Record<string, OutboxEvent[]> = { a: [], b: [] };
    for (const name of ['a', 'b'] as const)
      r.register({
        name: `order-${name}`,
        kinds: [kind],
        handle: (events) => {
          seen[name]!.push(...events);
          return Promise.resolve();
        },
      });
    // Drain by hand, one batch at a time, until nothing is left.
    await eventually(
      async () => (await r.drainOnce()).claimed,
      () => seen.a!.length === 5 && seen.b!.length === 5,
    );
    const ids = (await t.db.prisma.outboxEvent.findMany({ where: { kind }, orderBy: { id: 'asc' } })).map((e) => e.id);
    for (const name of ['a', 'b']) {
      const list = seen[name]!;
      expect(list.map((e) => e.id).sort((x, y) => (x < y ? -1 : 1))).toEqual(ids);
      for (const agg of [7n, 8n]) {
        const order = list.filter((e) => e.aggregateId === agg).map((e) => e.id);
        expect(order).toEqual([...order].sort((x, y) => (x < y ? -1 : 1)));
      }
    }
  });

  it('leaves events of kinds no consumer takes in the outbox', async () => {
    const taken = newKind();
    const other = newKind();
    await insert(taken, [1n]);
    await insert(other, [1n, 2n]);
    const r = registry();
    const got: bigint[] = [];
    r.register({
      name: 'only-taken',
      kinds: [taken],
      handle: (events) => {
        got.push(...events.map((e) => e.aggregateId));
        return Promise.resolve();
      },
    });
    expect(await r.drainOnce()).toMatchObject({ processed: 1 });
    expect(got).toEqual([1n]);
    expect(await t.db.prisma.outboxEvent.count({ where: { kind: other, processedAt: null } })).toBe(2);
    expect(await t.db.prisma.outboxDelivery.count({ where: { kind: other } })).toBe(0);
  });
});
