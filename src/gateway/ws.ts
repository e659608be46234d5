import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import {
  GraphQLError,
  OperationTypeNode,
  execute,
  getOperationAST,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode, makeServer, type ConnectionInitMessage } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { Viewer } from '../domain/viewer.js';
import { hashToken } from '../domain/auth/tokens.js';
import type { Logger } from '../logger.js';
import { ConnectionState } from '../realtime/connection.js';
import type { Realtime } from '../realtime/realtime.js';
import { createMaskError } from './errors.js';
import { createRenderer, type SubscriptionArgs, type SubscriptionOutput } from './renderer.js';
import { createFrameWriter } from './frames.js';
import type { createGraphQLHandler } from './yoga.js';
import { bearerToken, type ContextFactory } from './context.js';
import { checkInputs } from './input-guard.js';
import { closeFor, invalidClientMessage } from './ws-messages.js';
import type { Admission, SocketRequest } from './admission.js';
import { costReportedTo, createCostEstimator, explainCostError, withCost } from './limits-explained.js';

interface Extra {
  socket: WebSocket;
  request: SocketRequest;
  viewer?: Viewer;
  token?: string;
  state?: ConnectionState;
}

/** A connection's id (presence keys it across gateways): 96 random bits as one flat string (randomUUID's is built of a dozen pieces). */
const connectionId = () => randomBytes(12).toString('base64url');

/** Browser Origin check against the allow-list (cross-site WebSocket hijacking). */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: string[],
  dev: boolean,
): boolean {
  if (!origin) return true; // not a browser: the bearer token is the credential
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    const u = new URL(origin);
    if (host && u.host === host) return true; // same origin
    if (dev && (u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]')) return true;
  } catch {
    return false;
  }
  return false;
}

/**
 * GraphQL over WebSocket (graphql-transport-ws, graphql-ws's server) on the HTTP server's
 * /graphql path, sharing yoga's schema, parser and validation plugins (limits, introspection).
 * Authentication happens in connection_init; subscriptions render through the shared renderer;
 * slow consumers are disconnected instead of buffering without bound.
 */
export function attachWebSocket(deps: {
  server: Server;
  yoga: ReturnType<typeof createGraphQLHandler>;
  config: Config;
  contexts: ContextFactory;
  realtime: Realtime;
  log: Logger;
  /** Persisted documents and rate limits, the same policy as on HTTP (admission.ts). */
  admission?: Admission;
}) {
  const { config, contexts, realtime, log } = deps;
  const ws = config.websocket;
  const maskError = createMaskError(log);
  const maxCost = config.graphql.maxCost;
  const estimateCost = createCostEstimator(maxCost);
  const stats = { sharedRenders: 0, ownRenders: 0, directFrames: 0, slowDisconnects: 0 };

  const renderer = createRenderer({
    freshContext: contexts.fresh,
    onRender: (shared) => (shared ? stats.sharedRenders++ : stats.ownRenders++),
    onDirect: () => stats.directFrames++,
  });

  /** Closes a socket from our side (slow consumer, revoked access); terminated if it does not close. */
  const leaving = new WeakSet<WebSocket>();
  /** The hash of the token each authenticated socket opened with (revocations name hashes). */
  const tokenOf = new WeakMap<WebSocket, string>();
  const disconnect = (socket: WebSocket, code: number, reason: string) => {
    if (leaving.has(socket)) return;
    leaving.add(socket);
    if (code === 1013) stats.slowDisconnects++;
    socket.close(code, reason);
    setTimeout(() => socket.terminate(), 1_000).unref();
  };
  const disconnectSlow = (socket: WebSocket, buffered: number) => {
    log.warn({ buffered }, 'disconnecting a slow websocket client');
    disconnect(socket, 1013, 'slow consumer');
  };

  const frameOptions = { maxBufferedBytes: ws.maxBufferedBytes, onSlow: disconnectSlow };

  const maskResult = (result: ExecutionResult) =>
    result.errors
      ? { ...result, errors: result.errors.map((e) => (maskError(e, 'Unexpected error.') as GraphQLError).toJSON()) }
      : result;

  const gql = makeServer<ConnectionInitMessage['payload'], Extra>({
    connectionInitWaitTimeout: 10_000,
    async onConnect(ctx) {
      const raw = ctx.connectionParams?.['authorization'] ?? ctx.connectionParams?.['Authorization'];
      const token = typeof raw === 'string' ? (bearerToken(raw) ?? raw.trim()) : null;
      const viewer = await contexts.viewerFor(token);
      if (!viewer) return false; // graphql-ws closes with 4403 Forbidden
      const socket = ctx.extra.socket;
      ctx.extra.viewer = viewer;
      ctx.extra.token = token!;
      tokenOf.set(socket, hashToken(token!));
      ctx.extra.state = new ConnectionState(connectionId(), (code, reason) => disconnect(socket, code, reason));
      await realtime.presence.connect(viewer.userId.toString(), ctx.extra.state.id);
      if (viewer.expiresAt) {
        const ms = viewer.expiresAt.getTime() - Date.now();
        const timer = setTimeout(
          () => socket.close(CloseCode.Forbidden, 'Token expired'),
          Math.max(0, Math.min(ms, 2 ** 31 - 1)),
        );
        timer.unref();
        socket.once('close', () => clearTimeout(timer));
      }
      return true;
    },
    async onClose(ctx) {
      if (ctx.extra.viewer && ctx.extra.state && ctx.acknowledged) {
        await realtime.presence
          .disconnect(ctx.extra.viewer.userId.toString(), ctx.extra.state.id)
          .catch((err) => log.warn({ err }, 'presence disconnect failed'));
      }
    },
    async onSubscribe(ctx, id, payload) {
      const { viewer, state, token } = ctx.extra;
      if (!viewer || !state) return [new GraphQLError('Unauthorized', { extensions: { code: 'UNAUTHENTICATED' } })];
      const refused = deps.admission?.socketDocument(viewer, payload);
      if (refused) return refused;
      realtime.presence.activity(viewer.userId.toString());
      // No HTTP request here: yoga's request-bound plugins (e.g. no mutations over GET) do not apply to the socket.
      const { schema, parse, validate } = deps.yoga.getEnveloped({ params: payload }) as {
        schema: GraphQLSchema;
        parse: (source: string) => DocumentNode;
        validate: (schema: GraphQLSchema, document: DocumentNode) => readonly GraphQLError[];
      };
      let document: DocumentNode;
      try {
        document = parse(payload.query);
      } catch (err) {
        return [err instanceof GraphQLError ? err : new GraphQLError((err as Error).message)];
      }
      // The cost limit throws its refusal out of validation; both it and the page-size check answer
      // BAD_USER_INPUT naming the limit, as over HTTP (limits-explained.ts).
      let errors: readonly GraphQLError[];
      try {
        errors = validate(schema, document);
      } catch (err) {
        if (!(err instanceof GraphQLError)) throw err;
        errors = [err];
      }
      if (errors.length) return errors.map((e) => explainCostError(e, config.limits.maxPageSize, maxCost));
      // Before anything walks the variables (the render key below stringifies them): NUL, lone surrogates, depth.
      const badInput = checkInputs(document, payload.variables);
      if (badInput) return [badInput];
      const limited = await deps.admission?.socketOperation(viewer, ctx.extra.request, document, payload);
      if (limited) return limited;
      const operation = getOperationAST(document, payload.operationName);
      if (operation?.operation === OperationTypeNode.SUBSCRIPTION) {
        if (state.subscriptions >= ws.maxSubscriptions) {
          return [
            new GraphQLError(`At most ${ws.maxSubscriptions} subscriptions per connection`, {
              extensions: { code: 'RATE_LIMITED', retryAfterMs: 0 },
            }),
          ];
        }
        state.subscriptions += 1;
        state.counted.add(id);
      }
      const contextValue = contexts.build(viewer, token ?? null, state);
      const socket = ctx.extra.socket;
      const output: SubscriptionOutput | null =
        operation?.operation === OperationTypeNode.SUBSCRIPTION
          ? {
              frames: createFrameWriter(socket, id, frameOptions),
              mask: maskResult,
            }
          : null;
      return {
        schema,
        document,
        operationName: payload.operationName,
        variableValues: payload.variables,
        contextValue,
        rootValue: {
          renderKey: `${payload.operationName ?? ''}\n${JSON.stringify(payload.variables ?? {})}\n${payload.query}`,
          output,
        },
      };
    },
    // Bots and partner keys learn what each query or mutation cost (as on HTTP, limits-explained.ts).
    execute: async (args) => {
      const result = await execute(args);
      const viewer = (args.contextValue as { viewer?: Viewer | null }).viewer;
      if (!costReportedTo(viewer) || Symbol.asyncIterator in result) return result;
      return withCost({ ...result }, estimateCost(args.schema, args.document, args.operationName), maxCost);
    },
    async subscribe(args) {
      const { renderKey, output } = args.rootValue as { renderKey: string; output: SubscriptionOutput };
      return renderer.subscribe({ ...(args as SubscriptionArgs), rootValue: undefined }, renderKey, output);
    },
    // Query and mutation results (subscriptions write their own frames, see frames.ts).
    onNext: (_ctx, _id, _payload, _args, result) => maskResult(result),
    onError(_ctx, _id, _payload, errors) {
      return errors.map((e) => (maskError(e, 'Unexpected error.') as GraphQLError).toJSON());
    },
    onComplete(ctx, id) {
      const state = ctx.extra.state;
      if (state?.counted.delete(id)) state.subscriptions -= 1;
    },
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  deps.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/graphql') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!originAllowed(request.headers.origin, request.headers.host, ws.allowedOrigins, config.env !== 'production')) {
      log.warn({ origin: request.headers.origin }, 'websocket origin refused');
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (client) => wss.emit('connection', client, request));
  });

  /**
   * Keep-alive: one sweep for every socket (not a timer per socket: per-connection memory is the
   * budget at 10,000 sockets). A socket still waiting for the previous sweep's pong is dead.
   */
  const awaitingPong = new Set<WebSocket>();
  const keepAlive = setInterval(() => {
    for (const client of wss.clients) {
      if (awaitingPong.has(client)) {
        awaitingPong.delete(client);
        client.terminate();
        continue;
      }
      awaitingPong.add(client);
      client.ping();
    }
  }, ws.keepAliveMs);
  keepAlive.unref();
  wss.on('close', () => clearInterval(keepAlive));
  // Shared handlers (`this` is the socket): no closures per connection.
  function onPong(this: WebSocket) {
    awaitingPong.delete(this);
  }
  function onError(err: Error) {
    log.debug({ err }, 'websocket error');
  }

  /** One client message: parsed by graphql-ws; the raw Buffer is not kept while a subscription runs. */
  async function onClientMessage(socket: WebSocket, handle: (data: string) => Promise<void>, data: string) {
    const invalid = invalidClientMessage(data);
    if (invalid) return socket.close(CloseCode.BadRequest, invalid); // the client's mistake: 4400, not 4500
    try {
      await handle(data);
    } catch (err) {
      const [code, reason] = closeFor(err, log); // 1013 for an outage (retry), 4500 for our bugs
      socket.close(code, reason);
    }
  }

  /** graphql-ws's view of a `ws` socket: methods on a prototype, one small object per connection. */
  class ServerSocket {
    constructor(readonly socket: WebSocket) {}
    get protocol() {
      return this.socket.protocol;
    }
    send(data: string) {
      const socket = this.socket;
      return new Promise<void>((resolve) => {
        if (socket.readyState !== socket.OPEN) return resolve();
        if (socket.bufferedAmount > ws.maxBufferedBytes) {
          disconnectSlow(socket, socket.bufferedAmount);
          return resolve();
        }
        socket.send(data, () => resolve());
      });
    }
    close(code: number, reason: string) {
      this.socket.close(code, reason);
    }
    onMessage(handle: (data: string) => Promise<void>) {
      const socket = this.socket;
      // binaryType 'nodebuffer': always one Buffer
      socket.on('message', (event) => void onClientMessage(socket, handle, (event as Buffer).toString()));
    }
  }

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.on('pong', onPong);
    socket.on('error', onError);
    const slim: SocketRequest = { headers: request.headers, socket: { remoteAddress: request.socket.remoteAddress } };
    const closed = gql.opened(new ServerSocket(socket), { socket, request: slim });
    socket.once('close', (code, reason) => {
      awaitingPong.delete(socket);
      void closed(code, String(reason));
    });
  });

  return {
    stats: () => ({ ...stats, connections: wss.clients.size }),
    /**
     * Closes (4403) every socket opened with one of these tokens: a revocation ends the sessions it
     * names, not only their next requests. A scan of this gateway's sockets: revocations are rare.
     */
    closeRevoked(tokenHashes: readonly string[]) {
      const revoked = new Set(tokenHashes);
      for (const client of wss.clients) {
        const h = tokenOf.get(client);
        if (h !== undefined && revoked.has(h)) disconnect(client, CloseCode.Forbidden, 'Token revoked');
      }
    },
    /**
     * Closes every client with `code` (1012 Service Restart on shutdown: graphql-ws clients
     * reconnect and resume), spread evenly over `spreadMs` so they do not all reconnect at once.
     */
    async close({ code = 1001, reason = 'Going away', spreadMs = 0 } = {}) {
      const clients = [...wss.clients];
      for (const [i, client] of clients.entries()) {
        if (i > 0 && spreadMs > 0) await new Promise((r) => setTimeout(r, spreadMs / clients.length));
        client.close(code, reason);
        setTimeout(() => client.terminate(), 1_000).unref();
      }
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
