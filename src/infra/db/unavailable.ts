/** Connection-level codes: the database cannot be reached or cut us off (Node, PostgreSQL SQLSTATE, Prisma). */
const UNAVAILABLE_CODES = new Set([
  // Node sockets
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many connections, connection exceptions
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  // Prisma: can't reach, timed out, server closed the connection, pool timeout
  'P1001',
  'P1002',
  'P1017',
  'P2024',
]);

/** Prisma driver-adapter error kinds that mean the server is not there (not that the query was wrong). */
const UNAVAILABLE_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TransactionAlreadyClosed',
]);

const MESSAGES = [
  /Can't reach database server/,
  /Connection terminated/,
  /terminating connection due to/,
  /the database system is (starting up|shutting down|in recovery mode)/,
  /timeout exceeded when trying to connect/,
];

/**
 * Whether an error means "the database is unavailable right now" (a client may retry) rather than
 * a bug or a bad query. Looks through Prisma's wrapping (meta.driverAdapterError, cause chains)
 * without recursion, a bounded number of steps.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const queue: unknown[] = [error];
  for (let steps = 0; queue.length && steps < 32; steps++) {
    const e = queue.shift();
    if (!e || typeof e !== 'object') continue;
    const o = e as Record<string, unknown>;
    if (typeof o['code'] === 'string' && UNAVAILABLE_CODES.has(o['code'])) return true;
    if (typeof o['kind'] === 'string' && UNAVAILABLE_KINDS.has(o['kind'])) return true;
    if (typeof o['message'] === 'string' && MESSAGES.some((m) => m.test(o['message'] as string))) return true;
    const meta = o['meta'] as Record<string, unknown> | undefined;
    queue.push(o['cause'], o['originalError'], meta?.['driverAdapterError']);
  }
  return false;
}
