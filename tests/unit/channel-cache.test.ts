import { describe, expect, it } from 'vitest';
import { createChannelCache } from '../../src/domain/channels/channel-cache.js';
import { createChannelFeed } from '../../src/realtime/channel-feed.js';
import { createHub } from '../../src/realtime/hub.js';
import { createBrokerPublisher } from '../../src/realtime/publisher.js';
import { createMemoryBroker } from '../../src/infra/pubsub/memory.broker.js';
import type { Broker } from '../../src/infra/pubsub/broker.port.js';
import { createLogger } from '../../src/logger.js';

/**
 * The channel cache on the real local hub and memory broker: memory stays under its bounds however
 * many channels are read, evicted channels stop listening, and a missed-events signal (the engine
 * may have lost events: a shard failover) drops what the channel had cached.
 */
function setup(opts: { maxBytes: number; maxChannels: number }) {
  const log = createLogger({ logLevel: 'silent' });
  const memory = createMemoryBroker();
  const gaps = new Map<string, () => void>();
  // The memory engine never loses events; this wrapper lets the test say it did, as the Redis ring does on failover.
  const broker: Broker = {
    ...memory,
    subscribe: (topic, handler, onGap) => {
      if (onGap) gaps.set(topic.name, onGap);
      return memory.subscribe(topic, handler);
    },
  };
  const hub = createHub(broker, log);
  const { feed } = createChannelFeed(hub, createBrokerPublisher(broker, log));
  const cache = createChannelCache(feed, { ...opts, readerTtlMs: 60_000 });
  return { cache, hub, gaps };
}

describe('channel cache', () => {
  it('stays under its byte and channel bounds with 10,000 distinct channels read', async () => {
    const maxBytes = 2 * 1024 * 1024;
    const { cache, hub } = setup({ maxBytes, maxChannels: 5_000 });
    let reads = 0;
    const page = { nodes: Array.from({ length: 10 }, (_, i) => `message ${i}`.repeat(20)) };
    for (let i = 1; i <= 10_000; i++) {
      await cache.page(
        BigInt(i),
        50,
        () => (reads++, Promise.resolve(page)),
        () => 4_000,
      );
      await cache.checkReader(BigInt(i), 1n, () => Promise.resolve());
    }
    expect(reads).toBe(10_000);
    const s = cache.stats();
    expect(s.bytes).toBeLessThanOrEqual(maxBytes);
    expect(s.channels).toBeGreaterThan(0);
    // About 4.6 KB a channel: the byte bound, not the channel bound, is what held.
    expect(s.channels).toBeLessThan(5_000);
    // Evicted channels stopped listening: the hub holds a topic only for what is cached.
    await new Promise((r) => setTimeout(r, 0));
    expect(hub.stats().topics).toBe(s.channels);
    // The newest channels are still served from memory.
    await cache.page(
      10_000n,
      50,
      () => (reads++, Promise.resolve(page)),
      () => 4_000,
    );
    expect(reads).toBe(10_000);
  });

  it('holds at most maxChannels channels when pages are small', async () => {
    const { cache, hub } = setup({ maxBytes: 64 * 1024 * 1024, maxChannels: 300 });
    for (let i = 1; i <= 10_000; i++)
      await cache.page(
        BigInt(i),
        50,
        () => Promise.resolve([]),
        () => 10,
      );
    expect(cache.stats().channels).toBe(300);
    await new Promise((r) => setTimeout(r, 0));
    expect(hub.stats().topics).toBe(300);
  });

  it('drops a channel’s pages and access passes when events may have been missed', async () => {
    const { cache, gaps } = setup({ maxBytes: 1024 * 1024, maxChannels: 100 });
    let reads = 0;
    const read = () => (reads++, Promise.resolve(['m1']));
    await cache.page(7n, 50, read, () => 100);
    await cache.checkReader(7n, 1n, () => Promise.resolve());
    await cache.page(8n, 50, read, () => 100);
    expect(cache.isReader(7n, 1n)).toBe(true);
    await cache.page(7n, 50, read, () => 100);
    expect(reads).toBe(2); // cached

    gaps.get('ch:7')!();
    expect(cache.isReader(7n, 1n)).toBe(false);
    await cache.page(7n, 50, read, () => 100);
    expect(reads).toBe(3); // read again from the database
    await cache.page(8n, 50, read, () => 100);
    expect(reads).toBe(3); // the other channel heard nothing missing: still cached
  });
});
