import { describe, expect, it } from 'vitest';
import { createChannelCache, type MemberList } from '../../src/domain/channels/channel-cache.js';
import type { ChatEvent } from '../../src/domain/events/events.js';
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
function setup(opts: { maxBytes: number; maxChannels: number; maxMembers?: number }) {
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
  const cache = createChannelCache(feed, { maxMembers: 100_000, ...opts, readerTtlMs: 60_000 });
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

  describe('member set', () => {
    const list = (members: bigint[] | null): MemberList => ({ kind: 'PRIVATE', workspaceId: 1n, members });
    const changed = (channelId: bigint, userId: bigint, joined: boolean): ChatEvent => ({
      type: 'MembershipChanged',
      channelId: channelId.toString(),
      userId: userId.toString(),
      joined,
    });

    it('is loaded once for everyone and follows joins and leaves', async () => {
      const { cache } = setup({ maxBytes: 1024 * 1024, maxChannels: 100 });
      let loads = 0;
      const load = () => (loads++, Promise.resolve(list([5n, 3n, 9n])));
      const found = await Promise.all([3n, 5n, 9n, 4n].map((u) => cache.member(7n, u, load)));
      expect(found.map((f) => f !== null)).toEqual([true, true, true, false]);
      expect(found[0]).toEqual({ kind: 'PRIVATE', workspaceId: 1n });
      expect(loads).toBe(1);

      cache.published(changed(7n, 5n, false));
      cache.published(changed(7n, 4n, true));
      expect(await cache.member(7n, 5n, load)).toBeNull();
      expect(await cache.member(7n, 4n, load)).not.toBeNull();
      cache.published(changed(7n, 5n, true));
      expect(await cache.member(7n, 5n, load)).not.toBeNull();
      expect(loads).toBe(1);
    });

    it('is not kept when a membership changed while it loaded, and is dropped on a gap', async () => {
      const { cache, gaps } = setup({ maxBytes: 1024 * 1024, maxChannels: 100 });
      let loads = 0;
      // The load saw Ann (1) as a member; her leave arrives before its answer.
      const racing = () => {
        loads++;
        cache.published(changed(7n, 1n, false));
        return Promise.resolve(list([1n, 2n]));
      };
      expect(await cache.member(7n, 1n, racing)).toBeNull();
      const load = () => (loads++, Promise.resolve(list([2n])));
      expect(await cache.member(7n, 1n, load)).toBeNull();
      expect(await cache.member(7n, 2n, load)).not.toBeNull();
      expect(loads).toBe(2);

      gaps.get('ch:7')!();
      expect(await cache.member(7n, 2n, load)).not.toBeNull();
      expect(loads).toBe(3); // loaded again after the gap
    });

    it('knows nobody in a channel bigger than the limit, and a failed load knows nobody', async () => {
      const { cache } = setup({ maxBytes: 1024 * 1024, maxChannels: 100, maxMembers: 2 });
      let loads = 0;
      const load = () => (loads++, Promise.resolve(list(null)));
      expect(cache.maxMembers).toBe(2);
      expect(await cache.member(7n, 1n, load)).toBeNull();
      expect(await cache.member(7n, 2n, load)).toBeNull();
      expect(loads).toBe(1); // the answer "too big" is kept too
      expect(await cache.member(8n, 1n, () => Promise.reject(new Error('database down')))).toBeNull();
    });
  });
});
