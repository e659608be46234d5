import type { Logger } from 'pino';
import { InvalidCursorError, type SearchIndex } from './search-index.port.js';

/**
 * Wraps any SearchIndex: backend failures are logged here with the operation and timing (the
 * search service answers clients with SERVICE_UNAVAILABLE and nothing of the backend's message),
 * slow calls are logged at debug. Composed once, in app.ts.
 */
export function withSearchLogging(index: SearchIndex, log: Logger, slowMs = 250): SearchIndex {
  const timed =
    <A extends unknown[], R>(op: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const t0 = performance.now();
      try {
        return await fn(...args);
      } catch (err) {
        if (!(err instanceof InvalidCursorError))
          log.error({ err, backend: index.kind, op }, 'search index call failed');
        throw err;
      } finally {
        const ms = performance.now() - t0;
        if (ms > slowMs) log.debug({ backend: index.kind, op, ms: Math.round(ms) }, 'slow search index call');
      }
    };
  return {
    kind: index.kind,
    init: timed('init', () => index.init()),
    // Not logged: /ready reports its failures, and a probe every few seconds would flood the log.
    ping: () => index.ping(),
    upsert: timed('upsert', (docs) => index.upsert(docs)),
    remove: timed('remove', (ids) => index.remove(ids)),
    search: timed('search', (q) => index.search(q)),
    count: timed('count', (f, cap) => index.count(f, cap)),
    beginRebuild: timed('beginRebuild', () => index.beginRebuild()),
    close: () => index.close(),
  };
}
