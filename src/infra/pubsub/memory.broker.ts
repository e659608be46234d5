import { alreadySubscribed, type Broker, type Topic, type Unsubscribe } from './broker.port.js';

/** The in-process bus that memory brokers share (one per process in production; tests make several brokers on one). */
export function createMemoryBus() {
  return { topics: new Map<string, Set<(payload: unknown) => void>>() };
}
export type MemoryBus = ReturnType<typeof createMemoryBus>;

/**
 * In-process broker: the embedded default, for a single gateway process. Payloads go through
 * JSON like they would over Redis, so a BigInt or Date fails where it is published.
 */
export function createMemoryBroker(bus: MemoryBus = createMemoryBus()) {
  const mine = new Map<string, (payload: unknown) => void>();
  return {
    kind: 'memory',
    /** A value JSON cannot carry rejects (it does not throw synchronously). */
    publish(topic: Topic, payload: unknown): Promise<void> {
      try {
        const wire = JSON.stringify(payload);
        const handlers = bus.topics.get(topic.name);
        if (!handlers) return Promise.resolve();
        // Deliver asynchronously, as a network broker would; per-topic order is kept by the microtask queue.
        queueMicrotask(() => {
          for (const h of [...handlers]) h(JSON.parse(wire));
        });
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
    subscribe(topic: Topic, handler: (payload: unknown) => void): Promise<Unsubscribe> {
      if (mine.has(topic.name)) return Promise.reject(alreadySubscribed(topic));
      let handlers = bus.topics.get(topic.name);
      if (!handlers) bus.topics.set(topic.name, (handlers = new Set()));
      const own = (p: unknown) => handler(p);
      handlers.add(own);
      mine.set(topic.name, own);
      let done = false;
      return Promise.resolve(() => {
        if (!done) {
          done = true;
          handlers.delete(own);
          if (handlers.size === 0 && bus.topics.get(topic.name) === handlers) bus.topics.delete(topic.name);
          if (mine.get(topic.name) === own) mine.delete(topic.name);
        }
        return Promise.resolve();
      });
    },
    topicCount: () => mine.size,
    close(): Promise<void> {
      for (const [name, own] of mine) bus.topics.get(name)?.delete(own);
      mine.clear();
      return Promise.resolve();
    },
  } satisfies Broker;
}
