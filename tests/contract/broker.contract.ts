import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/infra/pubsub/broker.port.js';
import { topics } from '../../src/domain/events/topics.js';

/**
 * The guarantees every pub/sub engine gives (src/infra/pubsub/broker.port.ts), run against each
 * implementation: the in-memory engine and the Redis ring.
 */
export function describeBrokerContract(
  name: string,
  make: () => Promise<{ a: Broker; b: Broker; close: () => Promise<void> }>,
) {
  describe(`broker contract: ${name}`, () => {
    let a: Broker;
    let b: Broker;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ a, b, close } = await make());
    });
    afterAll(() => close?.());

    const until = async (check: () => boolean, ms = 3_000) => {
      const end = Date.now() + ms;
      while (!check()) {
        if (Date.now() > end) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 5));
      }
    };

    it('delivers JSON payloads to every subscriber of a topic, in publish order', async () => {
      const got1: unknown[] = [];
      const got2: unknown[] = [];
      const u1 = await a.subscribe(topics.channel('100'), (p) => got1.push(p));
      const u2 = await b.subscribe(topics.channel('100'), (p) => got2.push(p));
      for (let i = 0; i < 50; i++) await a.publish(topics.channel('100'), { i, s: 'x', nested: { ok: true } });
      await until(() => got1.length === 50 && got2.length === 50);
      expect(got1).toEqual(Array.from({ length: 50 }, (_, i) => ({ i, s: 'x', nested: { ok: true } })));
      expect(got2).toEqual(got1);
      await u1();
      await u2();
    });

    it('keeps topics apart and stops delivering after unsubscribe', async () => {
      const got: unknown[] = [];
      const u = await a.subscribe(topics.user('1'), (p) => got.push(p));
      await b.publish(topics.user('2'), { other: true });
      await b.publish(topics.user('1'), { mine: true });
      await until(() => got.length === 1);
      await u();
      await b.publish(topics.user('1'), { late: true });
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toEqual([{ mine: true }]);
    });

    it('holds one upstream subscription per topic per process: a second is refused, unsubscribe frees it', async () => {
      const before = a.topicCount();
      const got: number[] = [];
      const u1 = await a.subscribe(topics.channel('200'), () => got.push(1));
      expect(a.topicCount()).toBe(before + 1);
      await expect(a.subscribe(topics.channel('200'), () => got.push(2))).rejects.toThrow(/already subscribed/);
      await b.publish(topics.channel('200'), {});
      await until(() => got.length === 1);
      await u1();
      await u1(); // twice is harmless
      expect(a.topicCount()).toBe(before);
      const u2 = await a.subscribe(topics.channel('200'), () => got.push(2));
      await b.publish(topics.channel('200'), {});
      await until(() => got.length === 2);
      expect(got).toEqual([1, 2]);
      await u2();
    });

    it('refuses values JSON cannot carry', async () => {
      await expect(a.publish(topics.channel('300'), { n: 1n })).rejects.toThrow();
    });
  });
}
