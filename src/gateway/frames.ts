import type { WebSocket } from 'ws';

/**
 * Pre-encoded `next` frames written straight to a socket, past graphql-ws's per-subscription emit
 * path (which stringifies the whole message and awaits the write of every frame).
 *
 * A payload shared by many subscribers is serialized once per event into bytes
 * (`payloadBytes`); each subscription's frame is its own small prefix
 * (`{"id":"…","type":"next","payload":`) + those bytes + `}`. This is what Socket.IO does for a
 * room broadcast (one encode, then raw writes); it is written here rather than taken from a
 * library because it sits between graphql-ws's protocol state and the `ws` socket, which no
 * library joins. Protocol semantics stay graphql-ws's: a subscription's frames are written in
 * order by the one loop that renders them, and graphql-ws sends `complete` or `error` only after
 * that loop has ended, so nothing follows them.
 *
 * Writes to one socket are corked for the rest of the event loop turn (one syscall for a burst
 * of badge frames). A client that stops reading is disconnected (1013) once more than
 * `maxBufferedBytes` wait in its buffer, as on the graphql-ws path.
 */
export interface FrameWriter {
  /** Writes one `next` frame whose payload is these JSON bytes. False once the writer is closed. */
  next(payload: Buffer): boolean;
  /** No frame is written after this (the subscription ended or was cancelled). */
  close(): void;
}

const payloadCache = new WeakMap<object, Buffer>();

/** JSON bytes of a payload object, encoded once however many subscribers share the object. */
export function payloadBytes(payload: object, shared: boolean): Buffer {
  if (!shared) return Buffer.from(JSON.stringify(payload));
  let bytes = payloadCache.get(payload);
  if (!bytes) payloadCache.set(payload, (bytes = Buffer.from(JSON.stringify(payload))));
  return bytes;
}

/** A subscription's writer (a class, not closures: every live subscription holds one). */
class SocketFrameWriter implements FrameWriter {
  private open = true;
  /**
   * The frame's prefix as a string, written into each frame: a small Buffer kept per subscription
   * would pin a whole 8 KB slab of Node's Buffer pool (measured: ~1.8 KB per connection).
   */
  private readonly prefix: string;
  private readonly prefixBytes: number;

  constructor(
    private readonly socket: WebSocket,
    id: string,
    private readonly opts: FrameWriterOptions,
  ) {
    this.prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
    this.prefixBytes = Buffer.byteLength(this.prefix);
  }

  next(payload: Buffer): boolean {
    const socket = this.socket;
    if (!this.open || socket.readyState !== socket.OPEN) return false;
    if (socket.bufferedAmount > this.opts.maxBufferedBytes) {
      this.open = false;
      this.opts.onSlow(socket, socket.bufferedAmount);
      return false;
    }
    corkForThisTurn(socket);
    const n = this.prefixBytes;
    const frame = Buffer.allocUnsafe(n + payload.length + 1);
    frame.write(this.prefix, 0);
    payload.copy(frame, n);
    frame[n + payload.length] = 0x7d; // }
    socket.send(frame, { binary: false });
    return true;
  }

  close() {
    this.open = false;
  }
}

export interface FrameWriterOptions {
  maxBufferedBytes: number;
  /** The client stopped reading: more than maxBufferedBytes wait in its buffer. */
  onSlow: (socket: WebSocket, buffered: number) => void;
}

/** `opts` is shared by every writer of a gateway. */
export function createFrameWriter(socket: WebSocket, id: string, opts: FrameWriterOptions): FrameWriter {
  return new SocketFrameWriter(socket, id, opts);
}

const corked = new WeakSet<WebSocket>();

/** Batches this turn's writes to one socket into one (uncorked on the next tick). */
function corkForThisTurn(socket: WebSocket) {
  if (corked.has(socket)) return;
  // `_socket` is ws's underlying net.Socket (public in practice, untyped in @types/ws).
  const raw = (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  if (!raw) return;
  corked.add(socket);
  raw.cork();
  process.nextTick(() => {
    corked.delete(socket);
    raw.uncork();
  });
}
