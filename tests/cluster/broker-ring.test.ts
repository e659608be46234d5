import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisRingBroker } from '../../src/infra/pubsub/redis-ring.broker.js';
import { topics } from '../../src/domain/events/topics.js';
import { describeBrokerContract } from '../contract/broker.contract.js';
import { RedisShard, redisServerAvailable } from '../helpers/redis.js';

const log = pino({ level: 'silent' });
const available = redisServerAvailable();

describe.skipIf(!available)('redis ring', () => {
  let shards: RedisShard[] = [];
  beforeAll(async () => {
    shards = await Promise.all([0, 1, 2].map(() => RedisShard.start()));
  });
  afterAll(async () => {
    await Promise.all(shards.map((s) => s.kill()));
  });

  // Two brokers = two gateway processes sharing the three shards.
  describeBrokerContract('redis ring (3 shards, 2 processes)', () => {
    const urls = shards.map((s) => s.url);
    const a = createRedisRingBroker(urls, { log });
    const b = createRedisRingBroker(urls, { log });
    return Promise.resolve({ a, b, close: async () => (await a.close(), await b.close()) });
  });

  it('moves a dead shard’s topics to a live one within 5 s, signals the gap, and moves them back', async () => {
    const urls = shards.map((s) => s.url);
    const opts = { log, healthIntervalMs: 200, failAfter: 2, settleMs: 500 };
    const a = createRedisRingBroker(urls, opts);
    const b = createRedisRingBroker(urls, opts);
    try {
      // Find a topic served by shard 1.
      let topic = topics.channel('0');
      for (let i = 0; i < 1000 && topic.shardKey === '0'; i++)
        if (a.shardOf(topics.channel(String(1000 + i)))?.startsWith('shard-1'))
          topic = topics.channel(String(1000 + i));
      const got: number[] = [];
      let gaps = 0;
      await a.subscribe(
        topic,
        (p) => got.push((p as { n: number }).n),
        () => gaps++,
      );
      await b.publish(topic, { n: 1 });
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toEqual([1]);

      await shards[1]!.kill();
      const killedAt = Date.now();
      // Publishing to the dead shard fails fast instead of hanging.
      let n = 2;
      for (;;) {
        await b.publish(topic, { n }).catch(() => {});
        n++;
        if (got.some((x) => x >= 2)) break;
        if (Date.now() - killedAt > 5_000) throw new Error('live delivery did not resume within 5 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      const resumedMs = Date.now() - killedAt;
      expect(resumedMs).toBeLessThan(5_000);
      expect(gaps).toBeGreaterThan(0);
      expect(a.shardOf(topic)).not.toMatch(/^shard-1/);

      await shards[1]!.restart();
      const back = Date.now();
      while (!a.shardOf(topic)?.startsWith('shard-1') || !b.shardOf(topic)?.startsWith('shard-1')) {
        if (Date.now() - back > 5_000) throw new Error('topic did not move back');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300));
      const before = got.length;
      await b.publish(topic, { n: 999 });
      await new Promise((r) => setTimeout(r, 200));
      expect(got.slice(before)).toEqual([999]);
    } finally {
      await a.close();
      await b.close();
    }
  }, 30_000);
});
