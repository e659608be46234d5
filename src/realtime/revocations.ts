import type { Logger } from '../logger.js';
import { topics } from '../domain/events/topics.js';
import type { Hub } from './hub.js';

/** What the token cache offers the revocation feed (the auth service fits it). */
export interface RevocationSink {
  evict(tokenHashes: readonly string[]): void;
  evictAll(): void;
  hearingRevocations(live: boolean): void;
}

/**
 * Every gateway listens to the revocations topic for as long as it runs: a credential revoked on
 * any gateway is dropped from this one's token cache as soon as the event arrives. The cache
 * trusts entries long only while this subscription is live; a gap (a shard failover: events may
 * have been missed) forgets every cached token. When subscribing fails (the ring is down at
 * start), it retries every `retryMs` and the cache stays short-lived meanwhile.
 */
export function watchRevocations(
  hub: Hub,
  sink: RevocationSink,
  log: Logger,
  retryMs = 1_000,
  /** Also told of each revocation: the WebSocket gateway closes the sockets those tokens opened. */
  onRevoked?: (tokenHashes: readonly string[]) => void,
) {
  let stopped = false;
  let unlisten: (() => void) | null = null;
  let timer: NodeJS.Timeout | null = null;

  async function attempt(): Promise<void> {
    try {
      const stop = await hub.listen(
        topics.revocations(),
        (event) => {
          if (event.type !== 'CredentialsRevoked') return;
          sink.evict(event.tokenHashes);
          onRevoked?.(event.tokenHashes);
        },
        () => sink.evictAll(),
      );
      if (stopped) return stop();
      unlisten = stop;
      sink.hearingRevocations(true);
    } catch (err) {
      if (stopped) return;
      log.warn({ err }, 'cannot hear credential revocations yet; tokens are cached for a second only');
      timer = setTimeout(() => void attempt(), retryMs);
      timer.unref();
    }
  }

  return {
    /** Resolves after the first attempt (live, or retrying in the background). */
    ready: attempt(),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      unlisten?.();
      sink.hearingRevocations(false);
    },
  };
}
