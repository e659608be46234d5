/**
 * The per-process read cache of channels: for each channel read here lately, its newest pages and
 * who was found allowed to read it. Kept current by the channel's events, which this process
 * receives by listening to the channel's topic for as long as it caches anything about it (local
 * and, through the Redis ring, every other gateway's writes). Any event that may change what is
 * cached drops it; a gap (the engine may have lost events: shard failover) drops everything the
 * channel had. Bounded by bytes (LRU over channels); evicting a channel stops listening to it.
 *
 * Races: a read notes the channel's epoch before it asks the database and stores its answer only
 * if no event arrived meanwhile and the channel's topic was already live; so a cached answer is
 * never older than the last event this process received for that channel.
 */
import { LRUCache } from 'lru-cache';
import type { ChatEvent } from '../events/events.js';

/** Where a process hears what happens in a channel (the composition root wires the local hub). */
export interface ChannelFeed {
  /**
   * Calls `onEvent` with every event of the channel's topic and `onGap` when some may have been
   * lost; resolves once live upstream, with the function that stops listening.
   */
  watch(channelId: bigint, onEvent: (event: ChatEvent) => void, onGap: () => void): Promise<() => void>;
}

export interface ChannelCacheOptions {
  /** Upper bound of what the cache holds, in (estimated) bytes. */
  maxBytes: number;
  /** Upper bound of channels cached (each one is a topic this process listens to). */
  maxChannels: number;
  /** A positive access decision is trusted this long at most (events revoke it earlier). */
  readerTtlMs: number;
}

interface Entry {
  channelId: bigint;
  live: boolean;
  /** Settles once the topic is live (or failed to be). */
  ready: Promise<void>;
  dead: boolean;
  epoch: number;
  stop: (() => void) | null;
  /** Newest pages by page size. */
  pages: Map<number, { value: unknown; bytes: number }>;
  /** userId → until when its read access is trusted. */
  readers: Map<bigint, number>;
}

const ENTRY_BYTES = 512;
const READER_BYTES = 64;

export function createChannelCache(feed: ChannelFeed | null, opts: ChannelCacheOptions, now = () => Date.now()) {
  const sizeOf = (e: Entry) => {
    let bytes = ENTRY_BYTES + e.readers.size * READER_BYTES;
    for (const p of e.pages.values()) bytes += p.bytes;
    return bytes;
  };
  const lru = new LRUCache<string, Entry>({
    max: opts.maxChannels,
    maxSize: opts.maxBytes,
    sizeCalculation: (e) => Math.max(1, sizeOf(e)),
    dispose: (e) => {
      e.dead = true;
      e.stop?.();
      e.stop = null;
    },
  });
  let hits = 0;
  let misses = 0;

  /** What an event changes: the message rows of the pages, or who may read. Reactions are not in the rows. */
  function onEvent(e: Entry, event: ChatEvent) {
    switch (event.type) {
      case 'MessagePosted':
      case 'MessageEdited':
      case 'MessageDeleted':
      case 'ThreadUpdated':
        e.epoch++;
        e.pages.clear();
        break;
      case 'MembershipChanged':
        e.epoch++;
        if (!event.joined) e.readers.delete(BigInt(event.userId));
        break;
      default:
        return; // typing, reactions and the like change nothing cached
    }
    resize(e);
  }

  function resize(e: Entry) {
    if (!e.dead) lru.set(e.channelId.toString(), e);
  }

  /** The channel's entry, listening to its topic (created on first use). Null without a feed. */
  function entryOf(channelId: bigint): Entry | null {
    if (!feed) return null;
    const key = channelId.toString();
    let e = lru.get(key);
    if (e) return e;
    const entry: Entry = {
      channelId,
      live: false,
      ready: Promise.resolve(),
      dead: false,
      epoch: 0,
      stop: null,
      pages: new Map(),
      readers: new Map(),
    };
    lru.set(key, entry);
    entry.ready = feed
      .watch(
        channelId,
        (event) => onEvent(entry, event),
        () => {
          entry.epoch++;
          entry.pages.clear();
          entry.readers.clear();
          resize(entry);
        },
      )
      .then(
        (stop) => {
          if (entry.dead) stop();
          else {
            entry.stop = stop;
            entry.live = true;
          }
        },
        () => {
          if (lru.get(key) === entry) lru.delete(key);
        },
      );
    e = entry;
    return e;
  }

  /**
   * A read's ticket, taken before it asks the database (waiting for the channel's topic to be live
   * the first time): store the answer only if nothing happened to the channel meanwhile.
   */
  async function ticket(channelId: bigint) {
    const e = entryOf(channelId);
    if (e && !e.live) await e.ready;
    const epoch = e?.epoch ?? -1;
    const usable = !!e && e.live;
    return { entry: e, ok: () => usable && !!e && !e.dead && e.epoch === epoch };
  }

  return {
    /** Whether this user was found allowed to read the channel (and nothing revoked it since). */
    isReader(channelId: bigint, userId: bigint): boolean {
      const e = feed ? lru.get(channelId.toString()) : undefined;
      const until = e?.live ? e.readers.get(userId) : undefined;
      if (until !== undefined && until > now()) return true;
      return false;
    },

    /** Runs an access check and remembers a pass (a refusal is never cached). */
    async checkReader(channelId: bigint, userId: bigint, check: () => Promise<void>): Promise<void> {
      const t = await ticket(channelId);
      await check();
      if (t.ok() && t.entry) {
        t.entry.readers.set(userId, now() + opts.readerTtlMs);
        resize(t.entry);
      }
    },

    /** The cached newest page of this size, or a read of it that is then cached. */
    async page<T>(channelId: bigint, take: number, read: () => Promise<T>, bytesOf: (value: T) => number): Promise<T> {
      const e = feed ? lru.get(channelId.toString()) : undefined;
      const cached = e?.live ? e.pages.get(take) : undefined;
      if (cached) {
        hits++;
        return cached.value as T;
      }
      misses++;
      const t = await ticket(channelId);
      const value = await read();
      if (t.ok() && t.entry) {
        t.entry.pages.set(take, { value, bytes: bytesOf(value) });
        resize(t.entry);
      }
      return value;
    },

    /** An event this process published itself: applied now, before its own readers can ask again. */
    published(event: ChatEvent) {
      if (!('channelId' in event)) return;
      const e = lru.get(event.channelId);
      if (e) onEvent(e, event);
    },

    stats() {
      return { channels: lru.size, bytes: lru.calculatedSize, hits, misses };
    },

    clear() {
      lru.clear();
    },
  };
}

export type ChannelCache = ReturnType<typeof createChannelCache>;
