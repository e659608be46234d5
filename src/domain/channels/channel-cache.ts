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
 *
 * Who may read: besides each reader's pass, a channel keeps its member set (loaded in one statement
 * the first time anyone's access is checked, then kept by MembershipChanged events), so a herd of
 * different people opening one channel costs one access statement, not one per batch of them. The
 * set only ever says "member"; anyone else (a workspace member reading a public channel, a stranger)
 * is asked of the database, which also knows workspace membership.
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
  /** Channels with more members than this keep no member set (each reader is checked on its own). */
  maxMembers: number;
}

/** A channel's members as the database listed them (sorted or not), or null when it has more than the limit. */
export interface MemberList {
  kind: string;
  workspaceId: bigint;
  members: bigint[] | null;
}

/** The member set of a channel: the list loaded once, plus the joins and leaves heard since. */
interface Members {
  kind: string;
  workspaceId: bigint;
  /** Sorted user ids at load time; null when the channel was too big to keep them (nobody is known). */
  base: BigInt64Array | null;
  added: Set<bigint>;
  removed: Set<bigint>;
  /** Trusted until then, like a reader's pass. */
  until: number;
}

function sortedHas(ids: BigInt64Array, id: bigint): boolean {
  let lo = 0;
  let hi = ids.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = ids[mid]!;
    if (v === id) return true;
    if (v < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

function isMember(m: Members, userId: bigint): boolean {
  if (m.removed.has(userId)) return false;
  if (m.added.has(userId)) return true;
  return m.base !== null && sortedHas(m.base, userId);
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
  members: Members | null;
  /** The member set's load in flight (shared by concurrent checks). */
  membersLoad: Promise<Members | null> | null;
  /** Counts membership changes and gaps: a load that saw one change meanwhile is not kept. */
  memberEpoch: number;
}

const ENTRY_BYTES = 512;
const READER_BYTES = 64;

export function createChannelCache(feed: ChannelFeed | null, opts: ChannelCacheOptions, now = () => Date.now()) {
  const sizeOf = (e: Entry) => {
    let bytes = ENTRY_BYTES + e.readers.size * READER_BYTES;
    if (e.members)
      bytes += (e.members.base?.length ?? 0) * 8 + (e.members.added.size + e.members.removed.size) * READER_BYTES;
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
      case 'MembershipChanged': {
        e.epoch++;
        e.memberEpoch++;
        const userId = BigInt(event.userId);
        if (!event.joined) e.readers.delete(userId);
        if (e.members) {
          if (event.joined) {
            e.members.removed.delete(userId);
            e.members.added.add(userId);
          } else {
            e.members.added.delete(userId);
            e.members.removed.add(userId);
          }
        }
        break;
      }
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
      members: null,
      membersLoad: null,
      memberEpoch: 0,
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
          entry.members = null;
          entry.memberEpoch++;
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

    /**
     * Whether the channel's member set lists this user: the channel's kind and workspace if so, null
     * if not or if there is no set (the caller then asks the database). The set is loaded by `load`
     * the first time (one load shared by concurrent callers) and kept only if no membership change
     * arrived while it loaded.
     */
    async member(
      channelId: bigint,
      userId: bigint,
      load: () => Promise<MemberList | null>,
    ): Promise<{ kind: string; workspaceId: bigint } | null> {
      const e = entryOf(channelId);
      if (!e) return null;
      if (!e.live) await e.ready;
      if (!e.live || e.dead) return null;
      let m = e.members && e.members.until > now() ? e.members : null;
      if (!m) {
        if (!e.membersLoad) {
          const epoch = e.memberEpoch;
          const loading = load().then(
            (list): Members | null => {
              if (!list || e.dead || e.memberEpoch !== epoch) return null;
              const base = list.members ? BigInt64Array.from(list.members).sort() : null;
              const members = {
                kind: list.kind,
                workspaceId: list.workspaceId,
                base,
                added: new Set<bigint>(),
                removed: new Set<bigint>(),
                until: now() + opts.readerTtlMs,
              };
              e.members = members;
              resize(e);
              return members;
            },
            () => null, // the caller's own check reports what is wrong with the database
          );
          e.membersLoad = loading;
          void loading.then(() => {
            if (e.membersLoad === loading) e.membersLoad = null;
          });
        }
        m = await e.membersLoad;
        if (!m) return null;
      }
      return isMember(m, userId) ? { kind: m.kind, workspaceId: m.workspaceId } : null;
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

    /** Channels with more members than this keep no member set (what `member`'s load should know). */
    maxMembers: opts.maxMembers,

    stats() {
      return { channels: lru.size, bytes: lru.calculatedSize, hits, misses };
    },

    clear() {
      lru.clear();
    },
  };
}

export type ChannelCache = ReturnType<typeof createChannelCache>;
