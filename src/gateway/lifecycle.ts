import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';

/**
 * The HTTP server's life: in-flight requests are counted, and `drain()` turns readiness off,
 * stops accepting connections and waits for the requests in progress. Long-lived streams
 * (Server-Sent Events) never finish on their own: `cutStreams()` ends them once the drain period
 * is over, and their clients reconnect elsewhere.
 */
export function createHttpLifecycle(server: Server) {
  let draining = false;
  const inFlight = new Set<ServerResponse>();
  const streams = new Set<ServerResponse>();
  let idle: (() => void) | null = null;
  let streamsGone: (() => void) | null = null;

  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    // A keep-alive connection that sends a request while we drain is told not to come back.
    if (draining) res.setHeader('connection', 'close');
    const stream = (req.headers.accept ?? '').includes('text/event-stream');
    const set = stream ? streams : inFlight;
    set.add(res);
    res.once('close', () => {
      set.delete(res);
      if (inFlight.size === 0 && idle) idle();
      if (streams.size === 0 && streamsGone) streamsGone();
    });
  });

  return {
    /** False from the moment drain() is called: /ready answers 503. */
    get draining() {
      return draining;
    },
    inFlight: () => inFlight.size,
    streams: () => streams.size,
    /**
     * Readiness off, the listener closed (new connections are refused), idle keep-alive
     * connections closed; resolves when every ordinary request in progress has answered, or at
     * `deadline` (epoch ms), whichever comes first.
     */
    async drain(deadline: number): Promise<{ unfinished: number }> {
      draining = true;
      if (server.listening) server.close();
      server.closeIdleConnections();
      if (inFlight.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        idle = null;
      }
      return { unfinished: inFlight.size };
    },
    /** Waits until the event streams have ended, or `ms` have passed. */
    async streamsEnded(ms: number) {
      if (streams.size === 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        streamsGone = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      streamsGone = null;
    },
    /** Ends the Server-Sent Event streams still open (their clients reconnect elsewhere). */
    cutStreams() {
      for (const res of streams) res.socket?.destroy();
    },
    /** Whatever is left: every connection is cut. */
    closeAll() {
      server.closeAllConnections();
    },
  };
}

export type HttpLifecycle = ReturnType<typeof createHttpLifecycle>;

/**
 * Subscriptions served over HTTP (Server-Sent Events), kept by their source streams so that the
 * drain can end them: yoga then sends the stream's `complete` event and ends the response, and the
 * client knows the stream finished rather than broke. (Socket subscriptions are not served by yoga.)
 */
export function createHttpSubscriptions() {
  const open = new Set<AsyncIterator<unknown>>();
  const plugin: Plugin = {
    onSubscribe: () => ({
      onSubscribeResult: ({ result }) => {
        if (!(typeof result === 'object' && result !== null && Symbol.asyncIterator in result)) return;
        const it = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        open.add(it);
        return { onEnd: () => void open.delete(it) };
      },
    }),
  };
  return {
    plugin,
    /** Ends every HTTP subscription's stream: their responses complete. */
    completeAll() {
      for (const it of open) void it.return?.();
      open.clear();
    },
  };
}
