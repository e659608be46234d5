import { alreadySubscribed, type Broker, type Topic, type Unsubscribe } from './broker.port.js';

type Handler = (payload: unknown) => void;

/**
 * The in-process bus that memory brokers share (one per process in production; tests make several
 * brokers on one). A topic with one subscriber holds its handler as itself, not in a Set: most
 * topics are a user's own, and at 10,000 connections each per-topic object counts.
 */
export function createMemoryBus() {
  return { topics: new Map<string, Handler | Set<Handler>>() };
}
export type MemoryBus = ReturnType<typeof createMemoryBus>;

/**
 * In-process broker: the embedded default, for a single gateway process. Payloads go through
 * JSON like they would over Redis, so a BigInt or Date fails where it is published.
 */
export function createMemoryBroker(bus: MemoryBus = createMemoryBus()) {
  const mine = new Map<string, Handler>();

  function attach(name: string, own: Handler) {
    const current = bus.topics.get(name);
    if (current === undefined) bus.topics.set(name, own);
    else if (current instanceof Set) current.add(own);
    else bus.topics.set(name, new Set([current, own]));
  }

  function detach(name: string, own: Handler) {
    const current = bus.topics.get(name);
    if (current === own) bus.topics.delete(name);
    else if (current instanceof Set) {
      current.delete(own);
      if (current.size === 0) bus.topics.delete(name);
    }
  }

  function attached(name: string, h: Handler): boolean {
    const current = bus.topics.get(name);
    return current === h || (current instanceof Set && current.has(h));
  }

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
          if (handlers instanceof Set) for (const h of [...handlers]) h(JSON.parse(wire));
          else if (attached(topic.name, handlers)) handlers(JSON.parse(wire)); // not if it unsubscribed meanwhile
        });
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
    subscribe(topic: Topic, handler: Handler): Promise<Unsubscribe> {
      const name = topic.name;
      if (mine.has(name)) return Promise.reject(alreadySubscribed(topic));
      // Two brokers on one bus may pass the same function: each subscription needs its own identity.
      const own: Handler = attached(name, handler) ? (p) => handler(p) : handler;
      attach(name, own);
      mine.set(name, own);
      let done = false;
      return Promise.resolve(() => {
        if (!done) {
          done = true;
          detach(name, own);
          if (mine.get(name) === own) mine.delete(name);
        }
        return Promise.resolve();
      });
    },
    topicCount: () => mine.size,
    close(): Promise<void> {
      for (const [name, own] of mine) detach(name, own);
      mine.clear();
      return Promise.resolve();
    },
  } satisfies Broker;
}
