import type { IncomingMessage } from 'node:http';
import type { DocumentNode, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Viewer } from '../domain/viewer.js';
import { bearerToken, type ContextFactory } from './context.js';
import type { AddressedRequest } from './client-ip.js';
import type { PersistedDocuments } from './persisted.js';

/**
 * What a request must pass before it runs, on HTTP (yoga plugins) and on the WebSocket (hooks
 * ws.ts calls in onSubscribe): the persisted-documents policy, then the rate limits. One policy,
 * two transports.
 */
export interface AdmissionDeps {
  contexts: ContextFactory;
  persisted: PersistedDocuments;
  /** Rate limits per operation class (null: off). */
  limits?:
    | (SocketLimiter & {
        plugin(callerOf: (request: Request) => Promise<Viewer | null>, ipOf: (req: AddressedRequest) => string): Plugin;
      })
    | null;
  /** The client's address (TRUST_PROXY decides whether X-Forwarded-For is believed): client-ip.ts. */
  clientIp: (req: AddressedRequest) => string;
}

export interface SocketLimiter {
  /** Errors (RATE_LIMITED with retryAfterMs) when this operation is over a limit, else null. */
  checkSocket(
    viewer: Viewer,
    ip: string,
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Record<string, unknown> | null | undefined,
  ): Promise<GraphQLError[] | null>;
}

export function createAdmission(deps: AdmissionDeps) {
  const callers = new WeakMap<Request, Promise<Viewer | null>>();
  /** Who sent this HTTP request (resolved once per request). */
  const callerOf = (request: Request): Promise<Viewer | null> => {
    let caller = callers.get(request);
    if (!caller) {
      caller = deps.contexts.viewerFor(bearerToken(request.headers.get('authorization')));
      callers.set(request, caller);
    }
    return caller;
  };

  return {
    callerOf,
    /** yoga plugins, first in the chain: persisted documents, then rate limits. */
    httpPlugins(): Plugin[] {
      return [
        ...deps.persisted.plugins(callerOf),
        ...(deps.limits ? [deps.limits.plugin(callerOf, deps.clientIp)] : []),
      ];
    },
    /**
     * Before a socket operation is parsed: swaps a persisted id for its document (payload.query),
     * or answers with the error HTTP would give.
     */
    socketDocument(
      viewer: Viewer,
      payload: { query: string; extensions?: Record<string, unknown> | null },
    ): GraphQLError[] | null {
      const result = deps.persisted.resolve(viewer, payload);
      if ('query' in result) {
        payload.query = result.query;
        return null;
      }
      return [result];
    },
    /** After a socket operation is validated: the rate limits of its class. */
    async socketOperation(
      viewer: Viewer,
      request: SocketRequest,
      document: DocumentNode,
      payload: { operationName?: string | null; variables?: Record<string, unknown> | null },
    ): Promise<GraphQLError[] | null> {
      return deps.limits
        ? deps.limits.checkSocket(viewer, deps.clientIp(request), document, payload.operationName, payload.variables)
        : null;
    },
  };
}

export type Admission = ReturnType<typeof createAdmission>;

/** What a socket keeps of its upgrade request (not the IncomingMessage itself: it lives as long as the socket). */
export type SocketRequest = Pick<IncomingMessage, 'headers'> & { socket: { remoteAddress?: string | undefined } };
