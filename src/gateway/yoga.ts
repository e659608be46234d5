import { createYoga, type Plugin } from 'graphql-yoga';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import type { Logger } from 'pino';
import { GraphQLError, getOperationAST, OperationTypeNode, type GraphQLSchema } from 'graphql';
import { useGraphQlJit } from '@envelop/graphql-jit';
import type { Config } from '../config.js';
import type { GraphQLContext, StagedUploads } from '../graphql/context.js';
import { createMaskError } from './errors.js';
import { randomUUID } from 'node:crypto';
import type { Realtime } from '../realtime/realtime.js';
import { ConnectionState } from '../realtime/connection.js';
import { bearerToken, type ContextFactory } from './context.js';
import type { Viewer } from '../domain/viewer.js';
import { nestingLimit } from './nesting-limit.js';
import { graphiqlOptions, renderChatGraphiQL } from './graphiql.js';
import { corsOptions } from './cors.js';
import { inputGuard } from './input-guard.js';

export const CSRF_HEADER = 'x-graphql-yoga-csrf';
/** Any one of these proves a request is not a plain cross-site form post (yoga's and Apollo's names). */
export const CSRF_HEADERS = [CSRF_HEADER, 'apollo-require-preflight'];
const MAX_BODY_BYTES = 1024 * 1024;

const CONTENT_LENGTH = /^\d+$/;

/**
 * How much of a refused body is still read (and thrown away) so that the client, still sending,
 * gets the 413 on a connection that stays usable; past it the connection is closed.
 */
const DRAIN_BYTES = 8 * 1024 * 1024;

const tooLarge = (max: number, close: boolean) =>
  new GraphQLError(`request body exceeds ${max} bytes`, {
    extensions: {
      code: 'PAYLOAD_TOO_LARGE',
      http: { status: 413, ...(close ? { headers: { connection: 'close' } } : {}) },
    },
  });

/** The whole body, refused once it passes `max` bytes (for bodies that declare no length). */
async function readAtMost(request: Request, max: number): Promise<ArrayBuffer> {
  const reader = request.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      const body = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        body.set(c, at);
        at += c.byteLength;
      }
      return body.buffer;
    }
    size += value.byteLength;
    if (size > max) {
      chunks.length = 0;
      let ended = false;
      while (!ended && size <= max + DRAIN_BYTES) {
        const next = await reader.read();
        ended = next.done;
        size += next.value?.byteLength ?? 0;
      }
      if (!ended) await reader.cancel().catch(() => {});
      throw tooLarge(max, !ended);
    }
    chunks.push(value);
  }
}

/**
 * Body size limits: 1 MiB, or FILE_MAX_BYTES (plus room for the operation) for multipart uploads.
 * A body that declares its length is refused before it is read; Node's HTTP parser never hands
 * over more than a declared length, so such a body needs no counting. A body without one
 * (chunked) is read with a running count and refused as soon as it passes the limit. This
 * replaces yoga's own limit (maxRequestBodySize: 25 MB), which piped every body through a
 * TransformStream, a stream pipeline per request, about a tenth of the CPU of a small request.
 */
const bodyLimit = (maxUploadBytes: number): Plugin => {
  const maxFor = (request: Request) =>
    (request.headers.get('content-type') ?? '').startsWith('multipart/form-data')
      ? maxUploadBytes + 64 * 1024
      : MAX_BODY_BYTES;
  return {
    onRequest(payload) {
      const { request, fetchAPI } = payload;
      const length = Number(request.headers.get('content-length') ?? 0);
      const max = maxFor(request);
      if (length > max) {
        payload.endResponse(
          new fetchAPI.Response(
            JSON.stringify({
              errors: [{ message: `request body exceeds ${max} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
            }),
            { status: 413, headers: { 'content-type': 'application/json' } },
          ),
        );
      }
    },
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (!requestParser || !request.body || CONTENT_LENGTH.test(request.headers.get('content-length') ?? '')) return;
      const max = maxFor(request);
      setRequestParser(async (req) =>
        requestParser(
          new fetchAPI.Request(req.url, {
            method: req.method,
            headers: req.headers,
            signal: req.signal,
            body: await readAtMost(req, max),
          }),
        ),
      );
    },
  };
};

/**
 * Documents that fail to parse or validate are the client's fault: answer 400 whatever the
 * Accept header (yoga otherwise keeps 200 for legacy `application/json` clients).
 */
const badRequestForInvalidDocuments: Plugin = {
  onResultProcess({ result }) {
    const results = Array.isArray(result) ? result : [result];
    for (const r of results) {
      if (!r || typeof r !== 'object' || !('errors' in r) || !Array.isArray(r.errors)) continue;
      // No `data` at all: the request never reached execution (parse, validation, limits).
      const rejected = !('data' in r);
      for (const error of r.errors as { extensions?: Record<string, unknown> }[]) {
        if (!error.extensions) continue;
        const http = error.extensions['http'] as { status?: number; spec?: boolean } | undefined;
        if (http?.spec && http.status === 400) http.spec = false;
        else if (rejected && !http) {
          error.extensions['http'] = { status: 400 };
          error.extensions['code'] ??= 'GRAPHQL_VALIDATION_FAILED';
        }
      }
    }
  },
};

/**
 * Yoga's own log lines. Never `String(error)`: a GraphQLError prints the document around its
 * location, inline passwords and tokens included. Yoga logs at `error` every error our maskError
 * replaced; maskError itself logs the unexpected ones, so these are client mistakes: debug,
 * with their code and message only.
 */
function yogaLogging(log: Logger) {
  const text = (a: unknown[]) => a.map((x) => (x instanceof Error ? x.message : String(x))).join(' ');
  const fields = (a: unknown[]) => {
    const e = a.find((x): x is Error & { extensions?: { code?: unknown } } => x instanceof Error);
    return e ? { code: e.extensions?.code, error: e.name } : {};
  };
  return {
    debug: (...a: unknown[]) => log.debug(text(a)),
    info: (...a: unknown[]) => log.info(text(a)),
    warn: (...a: unknown[]) => log.warn(fields(a), text(a)),
    error: (...a: unknown[]) => log.debug(fields(a), text(a)),
  };
}

export interface YogaDeps {
  config: Config;
  schema: GraphQLSchema;
  contexts: ContextFactory;
  realtime: Realtime;
  log: Logger;
  /** Observability plugins (metrics, request log fields); they run before everything else. */
  instrumentation?: Plugin[];
  /** Plugins that run first (admission: persisted documents, rate limits). */
  plugins?: Plugin[];
  /**
   * Who sent a request, resolved once per request and shared with the admission plugins
   * (admission.callerOf); without it the context looks the bearer token up itself.
   */
  callerOf?: (request: Request) => Promise<Viewer | null>;
}

/** The GraphQL HTTP handler: auth → context → schema, with parser/validation limits and CSRF prevention. */
export function createGraphQLHandler({
  config,
  schema,
  contexts,
  realtime,
  log,
  plugins = [],
  instrumentation = [],
  callerOf = (request) => contexts.viewerFor(bearerToken(request.headers.get('authorization'))),
}: YogaDeps) {
  const g = config.graphql;
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    // An allow-list (CORS_ORIGINS), never any origin reflected with credentials.
    cors: corsOptions(config.cors.origins, config.env !== 'production'),
    graphiql: g.graphiql ? graphiqlOptions() : false,
    renderGraphiQL: renderChatGraphiQL,
    logging: yogaLogging(log),
    maskedErrors: { maskError: createMaskError(log) },
    plugins: [
      ...instrumentation,
      ...plugins,
      bodyLimit(config.files.maxBytes),
      badRequestForInvalidDocuments,
      // Browsers cannot send this header cross-site without a preflight, so form posts and
      // multipart requests from other sites are refused (yoga's CSRF prevention).
      useCSRFPrevention({ requestHeaders: CSRF_HEADERS }),
      EnvelopArmorPlugin({
        maxTokens: { n: g.maxTokens },
        maxDepth: { n: g.maxDepth, flattenFragments: true },
        maxAliases: { n: g.maxAliases },
        maxDirectives: { n: g.maxDirectives },
        costLimit: { maxCost: g.maxCost },
        blockFieldSuggestion: { enabled: !g.fieldSuggestions },
      }),
      // After armor: it wraps the parse function armor's token limit installs (see nesting-limit.ts).
      nestingLimit(Math.max(g.maxDepth * 2 + 8, 32), g.maxTokens),
      ...(g.introspection ? [] : [useDisableIntrospection()]),
      // NUL and lone surrogates refused as BAD_USER_INPUT before any resolver or service runs.
      inputGuard(),
      // Queries run as compiled JavaScript (graphql-jit), compiled once per document (the parse
      // cache hands back the same document object) and serialized by a stringifier made for the
      // query's shape: a page of 50 messages spent about a third of its CPU in graphql-js's
      // execution and in JSON.stringify of its null-prototype result (bench:history profile).
      // Mutations and subscriptions keep graphql-js; GRAPHQL_JIT=false turns it off.
      ...(g.jit
        ? [
            useGraphQlJit(
              {},
              {
                enableIf: (args) =>
                  getOperationAST(args.document, args.operationName)?.operation === OperationTypeNode.QUERY,
              },
            ),
          ]
        : []),
    ],
    // bodyLimit above: the same bound without a stream pipeline per request.
    maxRequestBodySize: false,
    // Multipart requests never reach yoga's own parser (it buffers every part): gateway/uploads.ts
    // streams them into the store and hands the operation over as JSON, with `uploads`.
    multipart: false,
    context: async (initial): Promise<GraphQLContext> => {
      const token = bearerToken(initial.request.headers.get('authorization'));
      const viewer = await callerOf(initial.request);
      if (viewer) realtime.presence.activity(viewer.userId.toString());
      const context = contexts.build(viewer, token, new ConnectionState(randomUUID()));
      const uploads = (initial as { uploads?: StagedUploads }).uploads;
      return uploads ? { ...context, uploads } : context;
    },
  });
}
