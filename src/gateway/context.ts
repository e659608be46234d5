import type { Services } from '../domain/services.js';
import type { Viewer } from '../domain/viewer.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { Loaders } from '../graphql/loaders.js';
import type { ConnectionState } from '../realtime/connection.js';
import type { Realtime } from '../realtime/realtime.js';

/** The token of an `Authorization: Bearer <token>` header (or null). */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return m ? m[1]! : null;
}

export interface ContextDeps {
  services: Services;
  realtime: Realtime;
  /** Fresh per-request batch loaders for a viewer (built by the composition root). */
  loadersFor(viewer: Viewer | null): Loaders;
}

/**
 * The one place a GraphQL request context is made, for HTTP requests, WebSocket operations and
 * each subscription event (which gets fresh loaders, so nothing cached goes stale across events).
 */
export function createContextFactory(deps: ContextDeps) {
  return {
    /** Who a bearer token belongs to (null when absent, unknown, revoked or expired). */
    async viewerFor(token: string | null): Promise<Viewer | null> {
      return token ? deps.services.auth.authenticate(token) : null;
    },
    build(viewer: Viewer | null, token: string | null, connection: ConnectionState): GraphQLContext {
      return {
        viewer,
        token,
        services: deps.services,
        loaders: deps.loadersFor(viewer),
        realtime: deps.realtime,
        connection,
        viewerDependency: { used: false },
      };
    },
    /** The same request context with fresh loaders and dependency tracking (one per subscription event). */
    fresh: (base: GraphQLContext): GraphQLContext => ({
      ...base,
      loaders: deps.loadersFor(base.viewer),
      viewerDependency: { used: false },
    }),
  };
}

export type ContextFactory = ReturnType<typeof createContextFactory>;
