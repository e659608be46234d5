import type { Broker } from '../infra/pubsub/broker.port.js';
import type { Logger } from '../logger.js';
import { topicsFor, type ChatEvent, type EventPublisher } from '../domain/events/events.js';

/**
 * Publishes domain events to their topics. A failed publish is logged and dropped, never
 * failing the write that caused it: the write was committed, and clients catch up through
 * `after:` replay (a gateway that dies loses nothing committed).
 */
export function createBrokerPublisher(broker: Broker, log: Logger): EventPublisher & { flush(): Promise<void> } {
  const pending = new Set<Promise<void>>();
  return {
    publish(event: ChatEvent) {
      for (const topic of topicsFor(event)) {
        const p = broker
          .publish(topic, event)
          .catch((err) =>
            log.warn({ err, topic: topic.name, type: event.type }, 'publish failed; clients will catch up by replay'),
          )
          .finally(() => pending.delete(p));
        pending.add(p);
      }
    },
    /** Waits for publishes in flight (shutdown, tests). */
    async flush() {
      await Promise.all([...pending]);
    },
  };
}
