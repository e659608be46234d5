import type { Broker, Unsubscribe } from './broker.port.js';

/**
 * In-process broker: the embedded default, for a single gateway process. Payloads go through
 * JSON like they would over Redis, so a BigInt or Date fails where it is published.
 */
export function createMemoryBroker() {
  const topics = new Map<string, Set<(payload: unknown) => void>>();
  return {
    kind: 'memory',
    async publish(topic: string, payload: unknown) {
      const handlers = topics.get(topic);
      const wire = JSON.stringify(payload);
      if (!handlers) return;
      // Deliver asynchronously, as a network broker would; per-topic order is kept by the microtask queue.
      queueMicrotask(() => {
        for (const h of [...handlers]) h(JSON.parse(wire));
      });
    },
    async subscribe(topic: string, handler: (payload: unknown) => void): Promise<Unsubscribe> {
      let handlers = topics.get(topic);
      if (!handlers) topics.set(topic, (handlers = new Set()));
      const own = (p: unknown) => handler(p); // distinct identity per subscription
      handlers.add(own);
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        handlers!.delete(own);
        if (handlers!.size === 0 && topics.get(topic) === handlers) topics.delete(topic);
      };
    },
    topicCount: () => topics.size,
    async close() {
      topics.clear();
    },
  } satisfies Broker;
}
