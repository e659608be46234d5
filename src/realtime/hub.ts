import type { Broker, Unsubscribe } from '../infra/pubsub/broker.port.js';
import type { Logger } from '../logger.js';
import type { ChatEvent } from './events.js';

type Listener = (event: ChatEvent) => void;

interface Entry {
  listeners: Set<Listener>;
  gapListeners: Set<() => void>;
  ready: Promise<Unsubscribe>;
}

/**
 * The local hub: one upstream subscription per topic for this process, fanned out to every
 * local listener (viewers' channel subscriptions, badge sessions, typing and presence
 * subscribers). All local listeners receive the same event object, which lets the renderer
 * execute a subscription's selection once per event and share the result.
 */
export function createHub(broker: Broker, log: Logger) {
  const entries = new Map<string, Entry>();

  function dispatch(topic: string, payload: unknown) {
    const entry = entries.get(topic);
    if (!entry) return;
    const event = payload as ChatEvent;
    for (const l of [...entry.listeners]) {
      try {
        l(event);
      } catch (err) {
        log.error({ err, topic }, 'listener failed');
      }
    }
  }

  return {
    /**
     * Adds a listener to a topic; resolves when the topic is live upstream, with the function
     * that removes the listener (and the upstream subscription with the last listener).
     * `onGap` runs when the engine may have dropped events (shard failover): catch up from the database.
     */
    async listen(topic: string, listener: Listener, onGap?: () => void): Promise<() => void> {
      let entry = entries.get(topic);
      if (!entry) {
        const gapListeners = new Set<() => void>();
        const ready = broker.subscribe(
          topic,
          (p) => dispatch(topic, p),
          () => {
            for (const g of [...gapListeners]) g();
          },
        );
        entry = { listeners: new Set(), gapListeners, ready };
        entries.set(topic, entry);
        ready.catch(() => {
          if (entries.get(topic) === entry) entries.delete(topic);
        });
      }
      const own: Listener = (e) => listener(e); // distinct identity, so one function can listen twice
      const gap = onGap ? () => onGap() : null;
      entry.listeners.add(own);
      if (gap) entry.gapListeners.add(gap);
      const mine = entry;
      let removed = false;
      const remove = () => {
        if (removed) return;
        removed = true;
        mine.listeners.delete(own);
        if (gap) mine.gapListeners.delete(gap);
        if (mine.listeners.size === 0 && entries.get(topic) === mine) {
          entries.delete(topic);
          mine.ready.then((unsub) => unsub()).catch(() => {});
        }
      };
      try {
        await mine.ready;
      } catch (err) {
        remove();
        throw err;
      }
      return remove;
    },

    /** Sizes of the hub's maps (for leak checks and metrics). */
    stats() {
      let listeners = 0;
      for (const e of entries.values()) listeners += e.listeners.size;
      return { topics: entries.size, listeners, brokerTopics: broker.topicCount() };
    },
  };
}

export type Hub = ReturnType<typeof createHub>;
