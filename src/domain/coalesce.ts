import DataLoader from 'dataloader';

/**
 * Process-wide coalescing of concurrent reads: every load made in the same turn of the event loop
 * (across requests) goes into one batch, so one statement answers them all; identical keys in
 * flight share one promise. Nothing is remembered once a batch has answered (caching, where it is
 * safe, is the caller's business).
 */
export function createBatcher<K, V>(
  batch: (keys: readonly K[]) => Promise<V[]>,
  keyOf: (key: K) => string,
  maxBatchSize = 500,
): (key: K) => Promise<V> {
  const loader = new DataLoader<K, V, string>((keys) => batch(keys), {
    cacheKeyFn: keyOf,
    // After I/O callbacks of this turn: requests that arrived together are batched together.
    batchScheduleFn: (run) => setImmediate(run),
    maxBatchSize,
  });
  return (key: K) => {
    const p = loader.load(key);
    const forget = () => void loader.clear(key);
    p.then(forget, forget);
    return p;
  };
}
