import { Redis } from 'ioredis';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Logger } from '../../logger.js';
import { alreadySubscribed, type Broker, type Topic, type Unsubscribe } from './broker.port.js';
import { HashRing } from './hash-ring.js';

export interface RedisRingOptions {
  log: Logger;
  /** How often each shard is pinged. */
  healthIntervalMs?: number;
  /** Consecutive failed pings before a shard is taken off the ring. */
  failAfter?: number;
  /** A second gap signal after a move, once every gateway has moved too. */
  settleMs?: number;
  /** Publishes slower than this fail (and are skipped: clients catch up by replay). */
  publishTimeoutMs?: number;
}

interface Shard {
  url: string;
  name: string;
  publisher: Redis;
  subscriber: Redis;
  pubsub: RedisPubSub;
  up: boolean;
  failures: number;
}

/** This process's one subscription to a topic (the hub fans it out to local listeners). */
interface TopicEntry {
  topic: Topic;
  handler: (payload: unknown) => void;
  onGap: (() => void) | null;
  shard: Shard | null;
  subId: number | null;
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
  new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });

/**
 * The pub/sub engine over N Redis shards on a consistent-hash ring. Each shard is a
 * graphql-redis-subscriptions RedisPubSub over two ioredis connections (publisher, subscriber).
 * Channel topics route by channel id, user and presence topics by user id.
 *
 * Failover: every process pings every shard; after `failAfter` failed pings a shard is off the
 * ring for this process, its topics are resubscribed on the next live shard clockwise, and their
 * subscribers get a gap signal (they replay from the database). When the shard answers again,
 * the topics move back the same way. A publish to a dead shard fails fast (no offline queue);
 * the publisher logs and drops it, since the write it announces is already committed.
 */
export function createRedisRingBroker(urls: string[], opts: RedisRingOptions) {
  const { log } = opts;
  const healthIntervalMs = opts.healthIntervalMs ?? 1_000;
  const failAfter = opts.failAfter ?? 2;
  const settleMs = opts.settleMs ?? 3_000;
  const publishTimeoutMs = opts.publishTimeoutMs ?? 1_000;
  const retryStrategy = (times: number) => Math.min(100 * times, 1_000);

  const shards: Shard[] = urls.map((url, i) => {
    const name = `shard-${i}:${new URL(url).host}`;
    const publisher = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy,
      enableAutoPipelining: true,
    });
    const subscriber = new Redis(url, { retryStrategy, maxRetriesPerRequest: null, autoResubscribe: true });
    for (const c of [publisher, subscriber])
      c.on('error', (err) => log.debug({ err: err.message, shard: name }, 'redis connection error'));
    const shard: Shard = {
      url,
      name,
      publisher,
      subscriber, // Cast: graphql-redis-subscriptions types name its own ioredis copy; the client API it uses is the same.
      pubsub: new RedisPubSub({ publisher: publisher as never, subscriber: subscriber as never }),
      up: true,
      failures: 0,
    };
    // A re-established subscriber connection may have missed messages while it was away.
    let connectedOnce = false;
    subscriber.on('ready', () => {
      if (connectedOnce) signalGaps((e) => e.shard === shard);
      connectedOnce = true;
    });
    return shard;
  });
  const byName = new Map(shards.map((s) => [s.name, s]));
  const ring = new HashRing(shards.map((s) => s.name));
  const topics = new Map<string, TopicEntry>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const route = (topic: Topic): Shard | null => {
    const name = ring.route(topic.shardKey, (n) => byName.get(n)!.up);
    return name ? byName.get(name)! : null;
  };

  function signalGaps(which: (e: TopicEntry) => boolean) {
    for (const e of topics.values()) if (which(e)) e.onGap?.();
  }

  async function attach(entry: TopicEntry) {
    const { topic } = entry;
    const shard = route(topic);
    entry.shard = shard;
    entry.subId = null;
    if (!shard) return;
    const subId = await shard.pubsub.subscribe(topic.name, (payload: unknown) => {
      if (entry.shard !== shard) return; // a late message from the shard we left
      entry.handler(payload);
    });
    if (entry.shard === shard && topics.get(topic.name) === entry) entry.subId = subId;
    else shard.pubsub.unsubscribe(subId);
  }

  function detach(entry: TopicEntry) {
    if (entry.shard && entry.subId !== null) entry.shard.pubsub.unsubscribe(entry.subId);
    entry.subId = null;
  }

  /** Moves every topic whose shard changed, then tells its subscribers (now and once settled). */
  async function rebalance() {
    const moved: TopicEntry[] = [];
    await Promise.all(
      [...topics.values()].map(async (entry) => {
        if (route(entry.topic) === entry.shard) return;
        detach(entry);
        await attach(entry).catch((err: Error) =>
          log.warn({ err: err.message, topic: entry.topic.name }, 'resubscribe failed'),
        );
        moved.push(entry);
      }),
    );
    if (!moved.length) return;
    log.info({ topics: moved.length }, 'topics moved between shards');
    const notify = () => {
      for (const e of moved) e.onGap?.();
    };
    notify();
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) notify();
    }, settleMs);
    timers.add(t);
  }

  /**
   * One health probe of a shard. Only evidence counts: a ping that fails (connection refused or
   * closed), or one that got no answer while this process was responsive. A ping that looks late
   * because our own event loop was busy (a fan-out burst) is inconclusive, not a failure: before
   * judging, pending I/O is given a turn (setImmediate runs after the poll phase that would
   * deliver the reply), and a timer that fired much later than asked means we were the slow one.
   */
  async function probe(s: Shard): Promise<'ok' | 'failed' | 'inconclusive'> {
    const timeoutMs = Math.max(200, healthIntervalMs / 2);
    const started = performance.now();
    let outcome: 'ok' | 'failed' | null = null;
    const ping = s.publisher.ping().then(
      () => (outcome = 'ok'),
      () => (outcome = 'failed'),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
    await Promise.race([ping, timedOut]);
    clearTimeout(timer);
    if (outcome) return outcome;
    const firedLateBy = performance.now() - started - timeoutMs;
    await new Promise<void>((r) => setImmediate(r));
    if (outcome) return outcome;
    return firedLateBy > timeoutMs / 2 ? 'inconclusive' : 'failed';
  }

  let checking = false;
  let failovers = 0;
  async function checkHealth() {
    if (checking || closed) return; // a check still running (a slow loop) is not stacked on
    checking = true;
    try {
      let changed = false;
      await Promise.all(
        shards.map(async (s) => {
          const result = await probe(s);
          if (result === 'inconclusive') {
            log.debug({ shard: s.name }, 'shard ping inconclusive: this process was busy');
            return;
          }
          if (result === 'ok') {
            s.failures = 0;
            if (!s.up) {
              s.up = true;
              changed = true;
              log.warn({ shard: s.name }, 'redis shard back on the ring');
            }
            return;
          }
          s.failures += 1;
          if (s.up && s.failures >= failAfter) {
            s.up = false;
            changed = true;
            failovers++;
            log.warn({ shard: s.name }, 'redis shard off the ring');
          }
        }),
      );
      if (changed && !closed) await rebalance();
    } finally {
      checking = false;
    }
  }

  const health = setInterval(() => {
    checkHealth().catch((err: unknown) => log.warn({ err }, 'shard health check failed'));
  }, healthIntervalMs);
  health.unref();

  return {
    kind: 'redis-ring',
    health: () => ({ up: shards.filter((s) => s.up).length, total: shards.length, failovers }),
    /**
     * Waits (up to `ms`) for every shard's connections; shards that do not come up start off the
     * ring. Throws when none does: a gateway with no pub/sub should not take traffic.
     */
    async ready(ms = 5_000) {
      await Promise.all(
        shards.map(async (s) => {
          const up = await Promise.all(
            [s.publisher, s.subscriber].map((c) =>
              c.status === 'ready'
                ? Promise.resolve(true)
                : withTimeout(new Promise<boolean>((r) => c.once('ready', () => r(true))), ms, 'connect').catch(
                    () => false,
                  ),
            ),
          );
          s.up = up.every(Boolean);
          if (!s.up) log.warn({ shard: s.name }, 'redis shard not reachable at start; off the ring until it answers');
        }),
      );
      if (!shards.some((s) => s.up)) throw new Error(`no redis shard reachable (${urls.join(', ')})`);
    },
    async publish(topic: Topic, payload: unknown) {
      const shard = route(topic);
      if (!shard) throw new Error('no live redis shard');
      await withTimeout(shard.pubsub.publish(topic.name, payload), publishTimeoutMs, `publish to ${shard.name}`);
    },
    async subscribe(topic: Topic, handler: (payload: unknown) => void, onGap?: () => void): Promise<Unsubscribe> {
      if (topics.has(topic.name)) throw alreadySubscribed(topic);
      const entry: TopicEntry = { topic, handler, onGap: onGap ?? null, shard: null, subId: null };
      topics.set(topic.name, entry);
      try {
        await attach(entry);
      } catch (err) {
        topics.delete(topic.name);
        throw err;
      }
      let done = false;
      return () => {
        if (!done && topics.get(topic.name) === entry) {
          topics.delete(topic.name);
          detach(entry);
        }
        done = true;
        return Promise.resolve();
      };
    },
    topicCount: () => topics.size,
    /**
     * The command connection of the live shard owning `key` (state that lives with its user's
     * shard, such as presence). Fails fast when the shard is down (no offline queue).
     */
    clientFor(key: string): Redis | null {
      const name = ring.route(key, (n) => byName.get(n)!.up);
      return name ? byName.get(name)!.publisher : null;
    },
    /** Which shard serves a topic now (tests, metrics). */
    shardOf: (topic: Topic) => route(topic)?.name ?? null,
    shardStates: () => shards.map((s) => ({ name: s.name, up: s.up })),
    close() {
      closed = true;
      clearInterval(health);
      for (const t of timers) clearTimeout(t);
      topics.clear();
      // disconnect, not quit: quit would wait for a dead shard to come back.
      for (const s of shards) {
        s.publisher.disconnect();
        s.subscriber.disconnect();
      }
      return Promise.resolve();
    },
  } satisfies Broker & Record<string, unknown>;
}
