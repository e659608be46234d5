import { expect, it } from 'vitest';
import { HashRing } from '../../src/infra/pubsub/hash-ring.js';

const ids = Array.from({ length: 100_000 }, (_, i) =>
  (1576779745046036480n + BigInt(i) * 4194304n + BigInt(i % 7)).toString(),
);

it('spreads 100,000 channel ids over 3 shards at 33% +/- 5% each', () => {
  const ring = new HashRing(['redis-a', 'redis-b', 'redis-c']);
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(ring.route(id)!, (counts.get(ring.route(id)!) ?? 0) + 1);
  for (const shard of ring.shards) {
    const share = counts.get(shard)! / ids.length;
    expect(share, shard).toBeGreaterThan(1 / 3 - 0.05);
    expect(share, shard).toBeLessThan(1 / 3 + 0.05);
  }
});

it('moves at most 30% of channels when a 4th shard joins, all of them to the new shard', () => {
  const before = new HashRing(['redis-a', 'redis-b', 'redis-c']);
  const after = new HashRing(['redis-a', 'redis-b', 'redis-c', 'redis-d']);
  let moved = 0;
  for (const id of ids) {
    const a = before.route(id);
    const b = after.route(id);
    if (a !== b) {
      moved++;
      expect(b).toBe('redis-d');
    }
  }
  expect(moved / ids.length).toBeLessThanOrEqual(0.3);
  expect(moved / ids.length).toBeGreaterThan(0.15);
});

it('hands a dead shard’s keys to live shards only, and takes them back when it returns', () => {
  const ring = new HashRing(['a', 'b', 'c']);
  const down = new Set(['b']);
  for (const id of ids.slice(0, 5_000)) {
    const normal = ring.route(id)!;
    const failover = ring.route(id, (s) => !down.has(s))!;
    if (normal !== 'b')
      expect(failover).toBe(normal); // nobody else moves
    else expect(failover).not.toBe('b');
  }
  expect(ring.route('x', () => false)).toBeNull();
});
