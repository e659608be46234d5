import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { abortable } from '../realtime/stream-kit.js';
import { compileProjection } from './projector.js';

/**
 * Payload types whose fields are plain properties (no loaders, no viewer): a badges subscription
 * is projected straight from the event instead of executed (src/gateway/projector.ts).
 */
const PLAIN_TYPES = new Set(['BadgeUpdate', 'ChannelBadge', 'ThreadBadge']);
const PLAIN_ROOT_FIELDS = new Set(['badges']);

interface Rendered {
  result: ExecutionResult;
  /** Whose context rendered it, and whether any resolver looked at who was asking. */
  viewerId: bigint | null;
  viewerDependent: boolean;
}

export interface SubscriptionArgs extends ExecutionArgs {
  contextValue: GraphQLContext;
}

/**
 * Shared rendering of subscription events. graphql-js would execute a subscription's selection
 * once per subscriber per event; here every local subscriber of a topic receives the same event
 * object, and subscribers with the same document and variables share one execution and one
 * result object (which the socket layer serializes once, see ws.ts). Per-viewer fields stay
 * right: a resolver that reads who is asking marks the execution viewer-dependent, and then
 * every other viewer gets an execution of their own.
 *
 * Each execution gets a fresh context (fresh DataLoaders), so nothing goes stale between events.
 */
export function createRenderer(opts: {
  freshContext: (base: GraphQLContext) => GraphQLContext;
  /** Called for every result sent, with whether it was shared (metrics, tests). */
  onRender?: (shared: boolean) => void;
  shareable: WeakSet<object>;
}) {
  const cache = new WeakMap<object, Map<string, Promise<Rendered>>>();

  async function run(event: unknown, args: SubscriptionArgs): Promise<Rendered> {
    const contextValue = opts.freshContext(args.contextValue);
    const result = await execute({ ...args, rootValue: event, contextValue });
    return {
      result,
      viewerId: contextValue.viewer?.userId ?? null,
      viewerDependent: contextValue.viewerDependency.used,
    };
  }

  async function render(event: unknown, args: SubscriptionArgs, key: string): Promise<ExecutionResult> {
    if (typeof event !== 'object' || event === null) return (await run(event, args)).result;
    let byKey = cache.get(event);
    if (!byKey) cache.set(event, (byKey = new Map<string, Promise<Rendered>>()));
    let shared = byKey.get(key);
    const first = !shared;
    if (!shared) {
      shared = run(event, args).then((r) => {
        if (!r.viewerDependent && !r.result.errors) opts.shareable.add(r.result);
        return r;
      });
      byKey.set(key, shared);
    }
    const r = await shared;
    if (r.viewerDependent && r.viewerId !== (args.contextValue.viewer?.userId ?? null)) {
      opts.onRender?.(false);
      return (await run(event, args)).result;
    }
    opts.onRender?.(!first);
    return r.result;
  }

  return {
    /** The graphql-ws `subscribe` implementation: source stream from the schema, rendered with sharing. */
    async subscribe(
      args: SubscriptionArgs,
      key: string,
    ): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
      const source = await createSourceEventStream(args);
      if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
      const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      const project = compileProjection(args.schema, args.document, args.operationName, PLAIN_TYPES, PLAIN_ROOT_FIELDS);
      async function* mapped(): AsyncGenerator<ExecutionResult> {
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          if (project) {
            opts.onRender?.(false);
            const result = project(next.value);
            // Serialized by the socket layer's fast path (one native JSON.stringify, no replacer
            // call per key); nobody else holds this object.
            opts.shareable.add(result);
            yield result;
          } else yield await render(next.value, args, key);
        }
      }
      return abortable(mapped(), () => iterator.return?.());
    },
  };
}
