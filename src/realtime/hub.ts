import type { Broker, Unsubscribe } from '../infra/pubsub/broker.port.js';
import type { Logger } from '../logger.js';
import type { ChatEvent } from '../domain/events/events.js';
import type { Topic } from '../domain/events/topics.js';

type Listener = (event: ChatEvent) => void;

interface Entry {
  /** The topic is a process-wide system topic (Topic.system): counted apart in stats(). */
  system: boolean;
  listeners: Set<Listener>;
  gapListeners: Set<() => void>;
  ready: Promise<Unsubscribe>;
}

/**
 * The local hub: one upstream subscription per topic for this process, fanned out to every
 * local listener (viewers' channel subscriptions, badge sessions, typing and presence
 * subscribers). This is the only place local listeners are reference-counted; the broker sees
 * one subscription per topic. All local listeners receive the same event object, which lets the
 * renderer execute a subscription's selection once per event and share the result.
 */
export function createHub(broker: Broker, log: Logger) {
  const entries = new Map<string, Entry>();
  /** Upstream unsubscribes in flight: a new subscription to the same topic waits for them. */
  const closing = new Map<string, Promise<void>>();
  let delivered = 0;
  /** Listeners ever added (monotonic: tests wait for "n more" without racing removals). */
  let listens = 0;

  function dispatch(entry: Entry, topic: Topic, payload: unknown) {
    const event = payload as ChatEvent;
    for (const l of [...entry.listeners]) {
      delivered++;
      try {
        l(event);
      } catch (err) {
        log.error({ err, topic: topic.name }, 'listener failed');
      }
    }
  }

  function open(topic: Topic): Entry {
    const gapListeners = new Set<() => void>();
    const entry: Entry = {
      system: topic.system,
      listeners: new Set(),
      gapListeners,
      ready: null as unknown as Promise<Unsubscribe>,
    };
    const previous = closing.get(topic.name) ?? Promise.resolve();
    entry.ready = previous.then(() =>
      broker.subscribe(
        topic,
        (p) => dispatch(entry, topic, p),
        () => {
          for (const g of [...gapListeners]) g();
        },
      ),
    );
    entries.set(topic.name, entry);
    entry.ready.catch(() => {
      if (entries.get(topic.name) === entry) entries.delete(topic.name);
    });
    return entry;
  }

  function shut(topic: Topic, entry: Entry) {
    entries.delete(topic.name);
    const done: Promise<void> = entry.ready
      .then((unsub) => unsub())
      .catch(() => {})
      .finally(() => {
        if (closing.get(topic.name) === done) closing.delete(topic.name);
      });
    closing.set(topic.name, done);
  }

  return {
    /**
     * Adds a listener to a topic; resolves when the topic is live upstream, with the function
     * that removes the listener (and the upstream subscription with the last listener).
     * `onGap` runs when the engine may have dropped events (shard failover): catch up from the database.
     */
    async listen(topic: Topic, listener: Listener, onGap?: () => void): Promise<() => void> {
      const entry = entries.get(topic.name) ?? open(topic);
      const own: Listener = (e) => listener(e); // distinct identity, so one function can listen twice
      if (!topic.system) listens++; // listens made for clients (tests wait on it)
      const gap = onGap ? () => onGap() : null;
      entry.listeners.add(own);
      if (gap) entry.gapListeners.add(gap);
      let removed = false;
      const remove = () => {
        if (removed) return;
        removed = true;
        entry.listeners.delete(own);
        if (gap) entry.gapListeners.delete(gap);
        if (entry.listeners.size === 0 && entries.get(topic.name) === entry) shut(topic, entry);
      };
      try {
        await entry.ready;
      } catch (err) {
        remove();
        throw err;
      }
      return remove;
    },

    /**
     * Sizes of the hub's maps (for leak checks and metrics), counting the topics clients made: the
     * process-wide system topics (Topic.system) every gateway listens to for as long as it runs
     * (revocations, profiles) are counted apart, so an idle gateway reads zero.
     */
    stats() {
      let listeners = 0;
      let systemTopics = 0;
      for (const e of entries.values()) {
        if (e.system) systemTopics++;
        else listeners += e.listeners.size;
      }
      return {
        topics: entries.size - systemTopics,
        listeners,
        brokerTopics: Math.max(0, broker.topicCount() - systemTopics),
        systemTopics,
        delivered,
        listens,
      };
    },
  };
}

export type Hub = ReturnType<typeof createHub>;
