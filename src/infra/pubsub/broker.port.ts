/**
 * The pub/sub engine port. Guarantees, for every implementation:
 * - at-most-once delivery to each subscribed process (no persistence: a process that is not
 *   subscribed when a message is published never sees it; clients close gaps by replaying from
 *   the database with `after:`);
 * - per-topic order: two publishes from one process to one topic arrive in publish order;
 * - JSON payloads: what is published is what JSON.parse(JSON.stringify(payload)) gives back;
 * - one upstream subscription per topic per process, however many local handlers: handlers are
 *   reference-counted and the upstream subscription ends with the last one.
 */
export type Unsubscribe = () => Promise<void>;

export interface Broker {
  readonly kind: string;
  publish(topic: string, payload: unknown): Promise<void>;
  /**
   * Resolves once the subscription is live upstream (so a publish after this is seen).
   * `onGap` runs when messages may have been missed (the topic moved to another shard, or a
   * shard connection was re-established): subscribers then catch up from the database.
   */
  subscribe(topic: string, handler: (payload: unknown) => void, onGap?: () => void): Promise<Unsubscribe>;
  /** Number of topics this process is subscribed to upstream (for leak checks and metrics). */
  topicCount(): number;
  close(): Promise<void>;
}
