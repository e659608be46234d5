import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { compileProjection } from './projector.js';
import { payloadBytes, type FrameWriter } from './frames.js';

/**
 * Payload types whose fields are plain properties (no loaders, no viewer): a badges subscription
 * is projected straight from the event instead of executed (src/gateway/projector.ts).
 */
const PLAIN_TYPES = new Set(['BadgeUpdate', 'ChannelBadge', 'ThreadBadge']);
const PLAIN_ROOT_FIELDS = new Set(['badges']);

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
}) {
  const cache = new WeakMap<object, Map<string, Promise<Rendered>>>();
  /** Shared renderings that have finished (only shareable ones: not viewer-dependent, no errors). */
  const settled = new WeakMap<object, Map<string, Rendered>>();
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

  /**
   * A shared rendering already finished for this event and key: the other subscribers take it
   * without awaiting (one promise and one microtask less per delivery on the fan-out path).
   */
  function renderedAlready(event: unknown, key: string): Rendered | undefined {
    if (typeof event !== 'object' || event === null) return undefined;
    const r = settled.get(event)?.get(key);
    if (r) opts.onRender?.(true);
    return r;
  }

  async function render(event: unknown, args: SubscriptionArgs, key: string): Promise<Rendered> {
    if (typeof event !== 'object' || event === null) return run(event, args);
    const done = renderedAlready(event, key);
    if (done) return done;
    let byKey = cache.get(event);
    if (!byKey) cache.set(event, (byKey = new Map<string, Promise<Rendered>>()));
    let shared = byKey.get(key);
    const first = !shared;
    if (!shared) {
      shared = run(event, args).then((r) => {
        r.shared = !r.viewerDependent && !r.result.errors;
        if (r.shared) {
          let done = settled.get(event);
          if (!done) settled.set(event, (done = new Map<string, Rendered>()));
          done.set(key, r);
        }
        return r;
      });
      byKey.set(key, shared);
    }
    const r = await shared;
    const viewerId = args.contextValue.viewer?.userId ?? null;
    if (r.viewerDependent && r.viewerId !== viewerId) {
      // Another viewer's execution: this viewer needs its own, shared by its other connections
      // (tabs, devices) whichever of them the hub reached first.
      const ownKey = `${key}\u0000${viewerId ?? ''}`;
      let own = byKey.get(ownKey);
      opts.onRender?.(own !== undefined);
      if (!own) byKey.set(ownKey, (own = run(event, args)));
      return own;
    }
    opts.onRender?.(!first);
    return r;
  }

  /**
   * One subscription's loop: reads its source stream, renders, writes frames. A class (methods on
   * the prototype, not closures): every live subscription holds one.
   */
  class Pump implements AsyncIterableIterator<never> {
    private running: Promise<IteratorResult<never>> | null = null;

    constructor(
      private readonly iterator: AsyncIterator<unknown>,
      private readonly project: ReturnType<typeof compileProjection>,
      private readonly args: SubscriptionArgs,
      private readonly key: string,
      private readonly out: SubscriptionOutput,
    ) {}

    next(): Promise<IteratorResult<never>> {
      return (this.running ??= this.pump());
    }

    async return(): Promise<IteratorResult<never>> {
      this.out.frames.close();
      await this.iterator.return?.(); // ends the source, so a pump waiting on it finishes
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

    private async pump(): Promise<IteratorResult<never>> {
      const { iterator, project, out } = this;
      try {
        for (;;) {
          const next = await iterator.next();
          if (next.done) break;
          let payload: Buffer;
          if (project) {
            opts.onRender?.(false);
            payload = payloadBytes(project(next.value), false);
          } else {
            const r = renderedAlready(next.value, this.key) ?? (await render(next.value, this.args, this.key));
            payload = r.shared ? payloadBytes(r.result, true) : payloadBytes(out.mask(r.result), false);
          }
          if (!out.frames.next(payload)) break; // socket gone or too slow: stop reading the stream
        }
      } finally {
        out.frames.close();
        await iterator.return?.();
      }
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
