/**
 * A bounded push queue read as an async iterator: the bridge between pub/sub callbacks and a
 * GraphQL subscription. When a consumer falls `limit` items behind, `onOverflow` runs (the
 * gateway disconnects such a slow client) and the iterator ends with an error, so memory stays
 * bounded. `return()` (unsubscribe) runs the cleanup once.
 */
export class SlowConsumerError extends Error {
  override name = 'SlowConsumerError';
}

/**
 * The direct path of a stream: a consumer that can take an item synchronously, inside the
 * producer's callback, attaches itself with this method. A stream hands it items only while its
 * reader is parked waiting (nothing of its own is pending, so order holds); otherwise items queue
 * as before. This takes the per-item promise hops of an async iterator out of the fan-out path:
 * a hub callback can carry an event all the way to the subscriber's socket in one loop.
 */
export const attachSink = Symbol('attachSink');
export type Sink<T> = (item: T) => void;
export interface SinkSource<T> {
  [attachSink](sink: Sink<T>): void;
}
export function hasSink<T>(source: object): source is SinkSource<T> {
  return attachSink in source;
}

export class EventQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private failWaiting: ((e: Error) => void) | null = null;
  private done = false;
  private error: Error | null = null;
  private cleanups: (() => void)[] = [];
  /**
   * Takes an item while the reader is parked, instead of waking it; false leaves the item to the
   * reader. Set by an attached sink, or by a stream that reads this queue (channel-stream.ts).
   */
  bypass: ((item: T) => boolean) | null = null;

  constructor(
    private readonly limit: number,
    private readonly onOverflow: () => void = () => {},
  ) {}

  get size() {
    return this.items.length;
  }

  get closed() {
    return this.done;
  }

  /** The items waiting to be read (a snapshot; reading them does not take them). */
  pending(): readonly T[] {
    return this.items;
  }

  onClose(fn: () => void) {
    if (this.done) fn();
    else this.cleanups.push(fn);
  }

  push(item: T) {
    if (this.done) return;
    if (this.waiting) {
      if (this.bypass !== null && this.bypass(item)) return;
      const w = this.waiting;
      this.waiting = this.failWaiting = null;
      w({ value: item, done: false });
      return;
    }
    if (this.items.length >= this.limit) {
      this.fail(new SlowConsumerError(`subscriber fell ${this.limit} events behind`));
      this.onOverflow();
      return;
    }
    this.items.push(item);
  }

  /** Ends the stream with an error (delivered after what is already queued is dropped). */
  fail(error: Error) {
    if (this.done) return;
    this.error = error;
    this.items = [];
    if (this.failWaiting) {
      const f = this.failWaiting;
      this.waiting = this.failWaiting = null;
      f(error);
    }
    this.finish();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.error) {
      const e = this.error;
      this.error = null;
      return Promise.reject(e);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.items = [];
    this.error = null;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = this.failWaiting = null;
      w({ value: undefined, done: true });
    }
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: Error): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  [attachSink](sink: Sink<T>) {
    this.bypass = (item) => {
      sink(item);
      return true;
    };
  }

  private finish() {
    if (this.done) return;
    this.done = true;
    const c = this.cleanups;
    this.cleanups = [];
    for (const fn of c) fn();
  }
}
