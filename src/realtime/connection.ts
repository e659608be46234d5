/**
 * What one client connection is looking at. Channel and thread subscriptions register here;
 * badge sessions on the same connection skip what it views ("the visible channel").
 */
export class ConnectionState {
  // Made on first use: most connections view nothing (a badges subscription only), and each of
  // 10,000 connections pays for what it holds.
  private channels: Map<string, number> | null = null;
  private threads: Map<string, number> | null = null;
  private countedIds: Set<string> | null = null;
  /** Live subscriptions, counted against the per-connection limit (and their protocol ids). */
  subscriptions = 0;

  get counted(): Set<string> {
    return (this.countedIds ??= new Set());
  }

  constructor(
    readonly id: string,
    /** Disconnects the client (slow consumer, revoked access). */
    readonly close: (code: number, reason: string) => void = () => {},
  ) {}

  viewChannel(channelId: string) {
    return track((this.channels ??= new Map<string, number>()), channelId);
  }

  viewThread(rootId: string) {
    return track((this.threads ??= new Map<string, number>()), rootId);
  }

  isViewingChannel(channelId: string) {
    return this.channels?.has(channelId) ?? false;
  }

  isViewingThread(rootId: string) {
    return this.threads?.has(rootId) ?? false;
  }

  get viewing() {
    return (this.channels?.size ?? 0) + (this.threads?.size ?? 0);
  }
}

function track(map: Map<string, number>, key: string): () => void {
  map.set(key, (map.get(key) ?? 0) + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (map.get(key) ?? 1) - 1;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  };
}
