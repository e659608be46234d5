import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisRingBroker } from '../../src/infra/pubsub/redis-ring.broker.js';
import { leaseWorkerId } from '../../src/infra/ids/worker-lease.js';
import { topics } from '../../src/domain/events/topics.js';
import { RedisShard, redisServerAvailable } from '../helpers/redis.js';

/**
 * A slow event loop is not a dead shard, and a renewal that could not run is not a lease taken by
 * someone else. (A gateway once took its only shard off the ring during a fan-out burst, read
 * "no live shard" as "lease lost" and exited.)
 */
const log = pino({ level: 'silent' });
const available = redisServerAvailable();
const blockFor = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // a busy event loop: a long synchronous fan-out
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available)('busy event loop and flapping shards', () => {
  let shard: RedisShard;
  beforeAll(async () => {
    shard = await RedisShard.start();
  });
  afterAll(() => shard?.kill());

  it('keeps its only shard on the ring while the event loop is blocked for 3 s', async () => {
    const ring = createRedisRingBroker([shard.url], { log, healthIntervalMs: 100, failAfter: 2, settleMs: 200 });
    try {
      await ring.ready();
      let gaps = 0;
      const got: number[] = [];
      await ring.subscribe(
        topics.channel('1'),
        (p) => got.push((p as { n: number }).n),
        () => gaps++,
      );
      // A fan-out burst: the loop runs long synchronous turns for 3 s, yielding only briefly.
      let everDown = false;
      const end = Date.now() + 3_000;
      while (Date.now() < end) {
        blockFor(250);
        await new Promise((r) => setImmediate(r));
        if (ring.shardStates().some((st) => !st.up)) everDown = true;
      }
      await sleep(300); // checks run again on a responsive loop
      expect(everDown).toBe(false);
      expect(ring.shardStates()).toEqual([expect.objectContaining({ up: true })]);
      expect(gaps).toBe(0);
      await ring.publish(topics.channel('1'), { n: 1 });
      for (let i = 0; i < 50 && got.length === 0; i++) await sleep(20);
      expect(got).toEqual([1]);
    } finally {
      await ring.close();
    }
  });

  it('still takes a shard that really died off the ring (evidence: refused connections)', async () => {
    const other = await RedisShard.start();
    const ring = createRedisRingBroker([shard.url, other.url], {
      log,
      healthIntervalMs: 100,
      failAfter: 2,
      settleMs: 200,
    });
    try {
      await ring.ready();
      await other.kill();
      for (let i = 0; i < 50 && ring.shardStates().every((s) => s.up); i++) await sleep(50);
      expect(ring.shardStates().filter((s) => !s.up)).toHaveLength(1);
    } finally {
      await ring.close();
      await other.kill();
    }
  });

  it('keeps its worker id when renewals cannot run (no live shard, errors), and gives it up only to another holder', async () => {
    const client = new Redis(shard.url);
    try {
      let reachable = true;
      const lost: Error[] = [];
      const lease = await leaseWorkerId(
        () => (reachable ? client : null),
        'me',
        (err) => lost.push(err),
        { leaseMs: 2_000, renewMs: 50 },
      );
      reachable = false; // the only shard is off the ring: renewals cannot run
      await sleep(300);
      blockFor(500); // and the process is busy
      await sleep(100);
      expect(lost).toEqual([]);
      reachable = true;
      await sleep(150);
      expect(lost).toEqual([]);
      expect(await client.get(`worker-id:${lease.workerId}`)).toBe('me');

      // Someone else holds it now: that is evidence, and the lease is given up.
      await client.set(`worker-id:${lease.workerId}`, 'someone-else', 'PX', 2_000);
      for (let i = 0; i < 40 && lost.length === 0; i++) await sleep(25);
      expect(lost.map((e) => e.message)).toEqual([expect.stringMatching(/held by another process/)]);
      await lease.release();
    } finally {
      client.disconnect();
    }
  });
});
