import WebSocket from 'ws';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL } from 'graphql-ws';

/**
 * A bare WebSocket speaking graphql-transport-ws by hand: for frames the official client would
 * never send (garbage, wrong shapes, server-only types, JSON too deep for JSON.stringify).
 */
export class RawSocket {
  readonly messages: { type?: string; id?: string; payload?: unknown }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.notify();
      }),
    );
    socket.on('message', (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString()) as RawSocket['messages'][number]);
      this.notify();
    });
    socket.on('error', () => {});
  }

  /** Opens the socket; with a token, also sends connection_init and waits for the ack. */
  static async open(httpUrl: string, token: string | null): Promise<RawSocket> {
    const socket = new WebSocket(httpUrl.replace(/^http/, 'ws'), GRAPHQL_TRANSPORT_WS_PROTOCOL);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const raw = new RawSocket(socket);
    if (token) {
      raw.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
      await raw.until((m) => m.type === 'connection_ack');
    }
    return raw;
  }

  get isOpen() {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(text: string) {
    this.socket.send(text);
  }

  private notify() {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** The first message (from `from` on) that matches, or null if the socket closes first. */
  async until(match: (m: RawSocket['messages'][number]) => boolean, from = 0, ms = 10_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found) return found;
      if (this.socket.readyState >= WebSocket.CLOSING) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message; got ${JSON.stringify(this.messages).slice(0, 1000)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Sends a subscribe and waits for its first answer (next or error) and completion. */
  async operation(id: string, query: string, variablesJson = '{}') {
    const from = this.messages.length;
    this.send(
      `{"type":"subscribe","id":${JSON.stringify(id)},"payload":{"query":${JSON.stringify(query)},"variables":${variablesJson}}}`,
    );
    return this.until((m) => m.id === id && (m.type === 'next' || m.type === 'error'), from);
  }

  close() {
    this.socket.terminate();
  }
}

/** JSON text of a value nested `depth` deep (built as text: JSON.stringify itself overflows). */
export function deepJson(depth: number, shape: 'list' | 'object' = 'list') {
  return shape === 'list'
    ? `${'['.repeat(depth)}"x"${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
}
