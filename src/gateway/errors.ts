import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { DomainError } from '../domain/errors.js';

/**
 * The one place domain errors become GraphQL errors: `extensions.code` for clients, the stable
 * `reason` for programs, and any details (`field`, `retryAfterMs`). Anything unexpected is
 * logged and masked.
 */
export function createMaskError(log: Logger) {
  return (error: unknown, message: string): Error => {
    const original = error instanceof GraphQLError ? error.originalError : error;
    if (original instanceof DomainError) {
      const gql = error instanceof GraphQLError ? error : null;
      return new GraphQLError(original.message, {
        nodes: gql?.nodes,
        source: gql?.source,
        positions: gql?.positions,
        path: gql?.path,
        extensions: { code: original.code, reason: original.reason, ...original.details },
      });
    }
    // Errors GraphQL itself made for the client (validation, coercion) pass through as they are.
    if (error instanceof GraphQLError && !error.originalError) return error;
    if (error instanceof GraphQLError && error.originalError instanceof GraphQLError) return error.originalError;
    log.error({ err: original ?? error }, 'unexpected error in resolver');
    return new GraphQLError(message, {
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  };
}
