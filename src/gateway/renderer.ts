import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { compileProjection } from './projector.js';
import { payloadBytes, type FrameWriter } from './frames.js';
import { attachSink, hasSink } from '../realtime/queue.js';

/**
 * Payload types whose fields are plain properties (no loaders, no viewer): a badges subscription
 * is projected straight from the event instead of executed (src/gateway/projector.ts).
 */
const PLAIN_TYPES = new Set(['BadgeUpdate', 'ChannelBadge', 'ThreadBadge']);
const PLAIN_ROOT_FIELDS = new Set(['badges']);

/** Executions one subscription's loop keeps in flight before it waits for their frames (replays). */
const MAX_IN_FLIGHT = 32;

interface Rendered {
  result: ExecutionResult;
  /** The same object goes to every subscriber with this document and variables. */
  shared: boolean;
  /** Whose context rendered it, and whether any resolver looked at who was asking. */
  viewerId: bigint | null;
  viewerDependent: boolean;
}

export interface SubscriptionArgs extends ExecutionArgs {
  contextValue: GraphQLContext;
}

/** Where a subscription's results go: pre-encoded frames on its socket (frames.ts). */
export interface SubscriptionOutput {
  frames: FrameWriter;
  /** Masks unexpected errors in a result that carries errors (never shared). */
  mask(result: ExecutionResult): object;
}

/**
 * Shared rendering of subscription events. graphql-js would execute a subscription's selection
 * once per subscriber per event; here every local subscriber of a topic receives the same event
 * object, and subscribers with the same document and variables share one execution, one result
 * object and one serialization (frames.ts). Per-viewer fields stay right: a resolver that reads
 * who is asking marks the execution viewer-dependent, and then every other viewer gets an
 * execution of their own.
 *
 * Each execution gets a fresh context (fresh DataLoaders), so nothing goes stale between events.
 */
export function createRenderer(opts: {
  freshContext: (base: GraphQLContext) => GraphQLContext;
  /** Called for every result sent, with whether it was shared (metrics, tests). */
  onRender?: (shared: boolean) => void;
  /** Called for every frame written on the direct path (from the hub's callback, no queue). */
  onDirect?: () => void;
}) {
  /** Executions by event and render key (per viewer too, for viewer-dependent results). */
  const slots = new WeakMap<object, Map<string, Slot>>();
  /**
   * Compiled projections by document (yoga's parser cache hands every subscriber of one query the
   * same DocumentNode): thousands of `badges` subscriptions share one compiled function instead of
   * holding a copy each.
   */
  const projections = new WeakMap<DocumentNode, Map<string, ReturnType<typeof compileProjection>>>();
  function projectionFor(args: SubscriptionArgs) {
    let byOp = projections.get(args.document);
    if (!byOp) projections.set(args.document, (byOp = new Map<string, ReturnType<typeof compileProjection>>()));
    const op = args.operationName ?? '';
    if (!byOp.has(op)) {
      byOp.set(op, compileProjection(args.schema, args.document, args.operationName, PLAIN_TYPES, PLAIN_ROOT_FIELDS));
    }
    return byOp.get(op)!;
  }

  /**
   * One execution of a subscription's selection for one event, shared by every subscriber with
   * the same render key. Subscribers that arrive before it finishes wait in `waiters` (one
   * promise callback per execution, not one per subscriber).
   */
  class Slot {
    rendered: Rendered | null = null;
    error: unknown = null;
    done = false;
    /** Whether a subscriber has taken the result (the first one counts as the execution). */
    taken = false;
    waiters: Pump[] | null = null;
    readonly promise: Promise<void>;

    constructor(
      readonly event: object,
      args: SubscriptionArgs,
    ) {
      this.promise = run(event, args).then(
        (r) => {
          r.shared = !r.viewerDependent && !r.result.errors;
          this.rendered = r;
          this.settle();
        },
        (err: unknown) => {
          this.error = err ?? new Error('render failed');
          this.settle();
        },
      );
    }

    private settle() {
      this.done = true;
      const w = this.waiters;
      this.waiters = null;
      if (w) for (const p of w) p.drain();
    }

    wait(p: Pump) {
      (this.waiters ??= []).push(p);
    }
  }

  async function run(event: unknown, args: SubscriptionArgs): Promise<Rendered> {
    const contextValue = opts.freshContext(args.contextValue);
    const result = await execute({ ...args, rootValue: event, contextValue });
    return {
      result,
      shared: false,
      viewerId: contextValue.viewer?.userId ?? null,
      viewerDependent: contextValue.viewerDependency.used,
    };
  }

  /** The execution for this event and key, started if it is the first subscriber to ask. */
  function slotFor(event: object, args: SubscriptionArgs, key: string): Slot {
    let byKey = slots.get(event);
    if (!byKey) slots.set(event, (byKey = new Map<string, Slot>()));
    let slot = byKey.get(key);
    if (!slot) byKey.set(key, (slot = new Slot(event, args)));
    return slot;
  }

  /**
   * A finished slot's result for this subscriber: the shared one, or (when a resolver looked at
   * who was asking and it was someone else) the slot of this viewer's own execution, shared by
   * that viewer's other connections (tabs, devices) whichever of them the hub reached first.
   */
  function resultFor(slot: Slot, event: object, args: SubscriptionArgs, key: string): Rendered | Slot {
    const r = slot.rendered!;
    const viewerId = args.contextValue.viewer?.userId ?? null;
    if (r.viewerDependent && r.viewerId !== viewerId) {
      const own = slotFor(event, args, `${key}\u0000${viewerId ?? ''}`);
      if (own !== slot) return own;
    }
    opts.onRender?.(slot.taken);
    slot.taken = true;
    return r;
  }

  /** A payload that is not an object (never shared): executed for this subscriber alone. */
  async function renderAlone(event: unknown, args: SubscriptionArgs): Promise<Rendered> {
    const r = await run(event, args);
    opts.onRender?.(false);
    return r;
  }

  /**
   * One subscription: reads its source stream, renders, writes frames. Two ways in, one order:
   *  - the direct path (`offer`): while the stream's reader is parked, the stream hands a live
   *    event over inside the hub's callback; its frame is written at once when the rendering is
   *    ready (projected badges, a shared rendering another subscriber finished), else it waits in
   *    `fifo` behind the execution;
   *  - the loop (`pump`): replays, gaps and anything needing the database come through the
   *    source iterator, rendered and written in turn.
   * Frames leave through `fifo` whenever it holds anything, so a subscription's frames are
   * written in the order its stream produced them. A class (methods on the prototype, not
   * closures): every live subscription holds one.
   */
  class Pump implements AsyncIterableIterator<never> {
    private running: Promise<IteratorResult<never>> | null = null;
    /** Frames waiting behind an unfinished execution, in order (null while nothing waits). */
    private fifo: (Buffer | Slot)[] | null = null;
    private stopped = false;
    private failure: unknown = null;
    private drained: (() => void) | null = null;
    /** The source's return(), called once when the subscription stops. */
    private ended: Promise<unknown> | undefined;

    constructor(
      private readonly iterator: AsyncIterator<unknown>,
      private readonly project: ReturnType<typeof compileProjection>,
      private readonly args: SubscriptionArgs,
      private readonly key: string,
      private readonly out: SubscriptionOutput,
    ) {
      if (hasSink(iterator)) iterator[attachSink]((event) => this.offer(event));
    }

    next(): Promise<IteratorResult<never>> {
      return (this.running ??= this.pump());
    }

    async return(): Promise<IteratorResult<never>> {
      this.stop();
      await this.ended; // the source has ended, so a pump waiting on it finishes
      await this.running?.catch(() => {});
      return { value: undefined, done: true };
    }

    async throw(error: unknown): Promise<IteratorResult<never>> {
      await this.return();
      throw error;
    }

    [Symbol.asyncIterator]() {
      return this;
    }

    /** The direct path: an event handed over synchronously by the stream. */
    private offer(event: unknown) {
      if (this.stopped) return;
      opts.onDirect?.();
      this.accept(event);
    }

    /**
     * One event in order, from either path: projected and written, or its execution queued
     * behind what waits (written at once when nothing waits and it has finished). False for a
     * payload that is not an object (never shared: the loop executes it alone).
     */
    private accept(event: unknown): boolean {
      if (this.project) {
        opts.onRender?.(false);
        this.emit(payloadBytes(this.project(event), false));
        return true;
      }
      if (typeof event !== 'object' || event === null) return false;
      const slot = slotFor(event, this.args, this.key);
      const r = this.fifo === null && slot.done && !slot.error ? resultFor(slot, event, this.args, this.key) : slot;
      if (r instanceof Slot) {
        (this.fifo ??= []).push(r);
        this.drain();
      } else {
        this.write(this.bytes(r));
      }
      return true;
    }

    /** Writes what is ready at the head of the fifo; stops at an unfinished execution. */
    drain() {
      const fifo = this.fifo;
      while (fifo !== null && fifo.length && !this.stopped) {
        const head = fifo[0]!;
        if (head instanceof Slot) {
          if (!head.done) return head.wait(this);
          if (head.error) return this.fail(head.error);
          const r = resultFor(head, head.event, this.args, this.key);
          if (r instanceof Slot) {
            fifo[0] = r;
            continue;
          }
          fifo.shift();
          this.write(this.bytes(r));
        } else {
          fifo.shift();
          this.write(head);
        }
      }
      if (this.fifo !== null && !this.fifo.length) {
        this.fifo = null;
        const d = this.drained;
        this.drained = null;
        d?.();
      }
    }

    private bytes(r: Rendered): Buffer {
      return r.shared ? payloadBytes(r.result, true) : payloadBytes(this.out.mask(r.result), false);
    }

    /** A frame in order: now, or behind what waits in the fifo. */
    private emit(payload: Buffer) {
      if (this.fifo !== null) this.fifo.push(payload);
      else this.write(payload);
    }

    private write(payload: Buffer) {
      if (!this.out.frames.next(payload)) this.stop(); // socket gone or too slow
    }

    /** No more frames; ends the source, so the loop waiting on it finishes. */
    private stop() {
      if (this.stopped) return;
      this.stopped = true;
      this.fifo = null;
      this.out.frames.close();
      const d = this.drained;
      this.drained = null;
      d?.();
      // Ended once; a source that fails to end has nothing left to tell this subscription.
      this.ended = Promise.resolve(this.iterator.return?.()).catch(() => {});
    }

    private whenDrained(): Promise<void> {
      if (this.fifo === null || this.stopped) return Promise.resolve();
      return new Promise<void>((r) => (this.drained = r));
    }

    private fail(error: unknown) {
      this.failure ??= error;
      this.stop();
    }

    private async pump(): Promise<IteratorResult<never>> {
      const { iterator } = this;
      try {
        while (!this.stopped) {
          const next = await iterator.next();
          if (next.done || this.stopped) break;
          if (!this.accept(next.value)) this.emit(this.bytes(await renderAlone(next.value, this.args)));
          // Replays come as fast as they are read: keep a bounded number of executions in flight.
          if (this.fifo !== null && this.fifo.length >= MAX_IN_FLIGHT) await this.whenDrained();
        }
        // The stream ended: its last frames go out before graphql-ws sends `complete`.
        await this.whenDrained();
      } finally {
        this.stop();
        await this.ended;
      }
      if (this.failure !== null) throw this.failure instanceof Error ? this.failure : new Error('render failed');
      return { value: undefined, done: true };
    }
  }
  return {
    /**
     * The graphql-ws `subscribe` implementation: source stream from the schema, rendered with
     * sharing and written as pre-encoded frames to `out`. The iterator handed back to graphql-ws
     * yields nothing: it ends when the stream ends (graphql-ws then sends `complete`), fails when
     * the stream fails, and its return() (the client's `complete`, or the socket closing) ends
     * the stream.
     */
    async subscribe(
      args: SubscriptionArgs,
      key: string,
      out: SubscriptionOutput,
    ): Promise<AsyncIterableIterator<never> | ExecutionResult> {
      const source = await createSourceEventStream(args);
      if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
      const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      return new Pump(iterator, projectionFor(args), args, key, out);
    },
  };
}
