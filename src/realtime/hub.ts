import type { Broker, Unsubscribe } from '../infra/pubsub/broker.port.js';
import type { Logger } from '../logger.js';
import type { ChatEvent } from '../domain/events/events.js';
import type { Topic } from '../domain/events/topics.js';

type Listener = (event: ChatEvent) => void;

/** One listen: its listener and gap handler (a record, not closures: there is one per subscription). */
class Listening {
  removed = false;
  constructor(
    readonly listener: Listener,
    readonly onGap: (() => void) | undefined,
    readonly entry: TopicEntry,
  ) {}
}

/**
 * A topic this process listens to, and its local listens. Most topics have one listen (a user's
 * own topic, read by that user's one connection), so one is held without a Set: at 10,000
 * connections every per-topic object counts.
 */
class TopicEntry {
  one: Listening | null = null;
  many: Set<Listening> | null = null;
  size = 0;
  ready: Promise<Unsubscribe> = null as unknown as Promise<Unsubscribe>;
  /** The engine's handlers for this topic (bound once per topic). */
  readonly onMessage: (payload: unknown) => void;
  readonly onGap: () => void;

  constructor(
    readonly topic: Topic,
    dispatch: (entry: TopicEntry, payload: unknown) => void,
  ) {
    this.onMessage = (payload) => dispatch(this, payload);
    this.onGap = () => {
      for (const l of this.snapshot()) l.onGap?.();
    };
  }

  add(l: Listening) {
    if (this.many) this.many.add(l);
    else if (this.one === null) this.one = l;
    else {
      this.many = new Set([this.one, l]);
      this.one = null;
    }
    this.size++;
  }

  delete(l: Listening) {
    if (this.many) {
      if (this.many.delete(l)) this.size--;
    } else if (this.one === l) {
      this.one = null;
      this.size--;
    }
  }

  /** The listens as they are now (a listener may remove itself, or add another, while called). */
  snapshot(): Listening[] {
    return this.many ? [...this.many] : this.one ? [this.one] : [];
  }
}

/**
 * The local hub: one upstream subscription per topic for this process, fanned out to every
 * local listener (viewers' channel subscriptions, badge sessions, typing and presence
 * subscribers). This is the only place local listeners are reference-counted; the broker sees
 * one subscription per topic. All local listeners receive the same event object, which lets the
 * renderer execute a subscription's selection once per event and share the result.
 */
export function createHub(broker: Broker, log: Logger) {
  const entries = new Map<string, TopicEntry>();
  /** Upstream unsubscribes in flight: a new subscription to the same topic waits for them. */
  const closing = new Map<string, Promise<void>>();
  let delivered = 0;
  /** Listeners ever added (monotonic: tests wait for "n more" without racing removals). */
  let listens = 0;

  function call(l: Listening, event: ChatEvent, topic: Topic) {
    delivered++;
    try {
      l.listener(event);
    } catch (err) {
      log.error({ err, topic: topic.name }, 'listener failed');
    }
  }

  function dispatch(entry: TopicEntry, payload: unknown) {
    const event = payload as ChatEvent;
    if (!entry.many) {
      if (entry.one) call(entry.one, event, entry.topic);
      return;
    }
    for (const l of [...entry.many]) call(l, event, entry.topic);
  }

  function subscribe(entry: TopicEntry): Promise<Unsubscribe> {
    try {
      return broker.subscribe(entry.topic, entry.onMessage, entry.onGap);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  function open(topic: Topic): TopicEntry {
    const entry = new TopicEntry(topic, dispatch);
    const previous = closing.get(topic.name);
    entry.ready = previous ? previous.then(() => subscribe(entry)) : subscribe(entry);
    entries.set(topic.name, entry);
    // A failed subscription is dropped by its listens: each one awaits `ready` and removes itself.
    return entry;
  }

  function shut(entry: TopicEntry) {
    const name = entry.topic.name;
    entries.delete(name);
    const done: Promise<void> = entry.ready
      .then((unsub) => unsub())
      .catch(() => {})
      .finally(() => {
        if (closing.get(name) === done) closing.delete(name);
      });
    closing.set(name, done);
  }

  function unlisten(l: Listening) {
    if (l.removed) return;
    l.removed = true;
    const entry = l.entry;
    entry.delete(l);
    if (entry.size === 0 && entries.get(entry.topic.name) === entry) shut(entry);
  }

  return {
    /**
     * Adds a listener to a topic; resolves when the topic is live upstream, with the function
     * that removes the listener (and the upstream subscription with the last listener).
     * `onGap` runs when the engine may have dropped events (shard failover): catch up from the database.
     * The same function may listen twice: each listen is removed on its own.
     */
    async listen(topic: Topic, listener: Listener, onGap?: () => void): Promise<() => void> {
      const entry = entries.get(topic.name) ?? open(topic);
      if (!topic.system) listens++; // listens made for clients (tests wait on it)
      const l = new Listening(listener, onGap, entry);
      entry.add(l);
      try {
        await entry.ready;
      } catch (err) {
        unlisten(l);
        throw err;
      }
      return () => unlisten(l);
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
        if (e.topic.system) systemTopics++;
        else listeners += e.size;
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
