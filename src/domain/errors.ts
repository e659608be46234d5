/**
 * Domain errors carry a stable reason ('channel/not_found') and a client-facing code. The gateway
 * maps them to GraphQL `extensions.code` in one place (src/gateway/errors.ts); domain code never
 * speaks HTTP.
 */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'SERVICE_UNAVAILABLE';

export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    readonly reason: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Brand check that also works across duplicated module instances. */
export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainError || (e instanceof Error && e.name === 'DomainError' && 'code' in e && 'reason' in e);
}

export const unauthenticated = (message = 'Authentication required') =>
  new DomainError('UNAUTHENTICATED', 'auth/unauthenticated', message);

export const forbidden = (reason: string, message: string, details?: Record<string, unknown>) =>
  new DomainError('FORBIDDEN', reason, message, details);

/** Used both for ids that do not exist and for ids the caller may not see: the answers must match. */
export const notFound = (what: string, id?: string | bigint) =>
  new DomainError('NOT_FOUND', `${what}/not_found`, id === undefined ? `${what} not found` : `${what} ${id} not found`);

export const badInput = (reason: string, message: string, details?: Record<string, unknown>) =>
  new DomainError('BAD_USER_INPUT', reason, message, details);

export const conflict = (reason: string, message: string) => new DomainError('CONFLICT', reason, message);

/** A backing service (e.g. the search index) is down; the client may retry later. The cause is logged where it happened. */
export const unavailable = (reason: string, message: string) => new DomainError('SERVICE_UNAVAILABLE', reason, message);
