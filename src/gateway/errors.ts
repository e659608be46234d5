import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { isDomainError } from '../domain/errors.js';
import { isOutage } from '../domain/outage.js';

interface GraphQLErrorLike extends Error {
  originalError?: unknown;
  path?: readonly (string | number)[];
  nodes?: GraphQLError['nodes'];
  source?: GraphQLError['source'];
  positions?: readonly number[];
  extensions?: Record<string, unknown>;
}

// Duck-typed on purpose: graphql-js can be loaded twice (its CJS and ESM builds), and then
// `instanceof GraphQLError` is false for errors made by the other copy.
const isGraphQLError = (e: unknown): e is GraphQLErrorLike =>
  e instanceof Error && e.name === 'GraphQLError' && 'extensions' in e;

/**
 * The one place domain errors become GraphQL errors: `extensions.code` for clients, the stable
 * `reason` for programs, and any details (`field`, `retryAfterMs`). Anything unexpected is
 * logged and masked.
 */
export function createMaskError(log: Logger) {
  return (error: unknown, message: string): Error => {
    const gql = isGraphQLError(error) ? error : null;
    const original = gql ? gql.originalError : error;
    if (isDomainError(original)) {
      return new GraphQLError(original.message, {
        nodes: gql?.nodes,
        source: gql?.source,
        positions: gql?.positions,
        path: gql?.path,
        extensions: { code: original.code, reason: original.reason, ...original.details },
      });
    }
    // Errors GraphQL itself made for the client (validation, coercion) pass through as they are.
    if (gql && (!original || isGraphQLError(original))) return (original as Error) ?? gql;
    // The database is down or cut us off: an outage the client may retry, not a bug (no stack spam).
    if (isOutage(original ?? error)) {
      log.warn({ err: { message: ((original ?? error) as Error).message } }, 'database unavailable');
      return new GraphQLError('The database is unavailable; retry shortly.', {
        path: gql?.path,
        extensions: {
          code: 'SERVICE_UNAVAILABLE',
          reason: 'database/unavailable',
          retryAfterMs: 1000,
          // Over HTTP: 503 with Retry-After (yoga consumes `http`), also when the request failed
          // before execution (the token lookup in the context), which would otherwise be a 400.
          http: { status: 503, headers: { 'retry-after': '1' } },
        },
      });
    }
    log.error({ err: original ?? error }, 'unexpected error in resolver');
    return new GraphQLError(message, { path: gql?.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  };
}
