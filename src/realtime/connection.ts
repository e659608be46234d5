/**
 * What one client connection is looking at. Channel and thread subscriptions register here;
 * badge sessions on the same connection skip what it views ("the visible channel").
 */
export class ConnectionState {
  private readonly channels = new Map<string, number>();
  private readonly threads = new Map<string, number>();
  /** Live subscriptions, counted against the per-connection limit (and their protocol ids). */
  subscriptions = 0;
  readonly counted = new Set<string>();

  constructor(
    readonly id: string,
    /** Disconnects the client (slow consumer, revoked access). */
    readonly close: (code: number, reason: string) => void = () => {},
  ) {}

  viewChannel(channelId: string) {
    return track(this.channels, channelId);
  }

  viewThread(rootId: string) {
    return track(this.threads, rootId);
  }

  isViewingChannel(channelId: string) {
    return this.channels.has(channelId);
  }

  isViewingThread(rootId: string) {
    return this.threads.has(rootId);
  }

  get viewing() {
    return this.channels.size + this.threads.size;
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
