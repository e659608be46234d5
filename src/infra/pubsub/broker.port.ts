/**
 * A pub/sub topic: its name on the wire, and the key the Redis ring routes it by (a channel id,
 * a user id). Topic builders (src/domain/events/topics.ts) make them; nothing parses names back.
 */
export interface Topic {
  readonly name: string;
  readonly shardKey: string;
}

/**
 * The pub/sub engine port. Guarantees, for every implementation:
 * - at-most-once delivery to each subscribed process (no persistence: a process that is not
 *   subscribed when a message is published never sees it; clients close gaps by replaying from
 *   the database with `after:`);
 * - per-topic order: two publishes from one process to one topic arrive in publish order;
 * - JSON payloads: what is published is what JSON.parse(JSON.stringify(payload)) gives back;
 * - one upstream subscription per topic per process: a process subscribes a topic at most once at
 *   a time (a second subscribe is refused). Local listeners are reference-counted above the
 *   engine, by the hub (src/realtime/hub.ts), and only there.
 */
export type Unsubscribe = () => Promise<void>;

export interface Broker {
  readonly kind: string;
  publish(topic: Topic, payload: unknown): Promise<void>;
  /**
   * Resolves once the subscription is live upstream (so a publish after this is seen).
   * `onGap` runs when messages may have been missed (the topic moved to another shard, or a
   * shard connection was re-established): subscribers then catch up from the database.
   * Throws when this process is already subscribed to the topic.
   */
  subscribe(topic: Topic, handler: (payload: unknown) => void, onGap?: () => void): Promise<Unsubscribe>;
  /** Number of topics this process is subscribed to upstream (for leak checks and metrics). */
  topicCount(): number;
  /** Shards on the ring and how often one was taken off it (engines with shards; for /ready and metrics). */
  health?(): { up: number; total: number; failovers: number };
  close(): Promise<void>;
}

export const alreadySubscribed = (topic: Topic) =>
  new Error(`already subscribed to ${topic.name}: the hub reference-counts local listeners`);
