import type { YogaServerOptions } from 'graphql-yoga';

/** Response headers a browser client may read (rate limits). */
const EXPOSED = ['RateLimit', 'RateLimit-Policy', 'Retry-After'];

const isLocal = (origin: string) => {
  try {
    const { hostname } = new URL(origin);
    return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
  } catch {
    return false;
  }
};

/**
 * CORS by allow-list (CORS_ORIGINS): a listed origin gets its own origin back with credentials;
 * `*` in the list lets any origin in without credentials; any other origin gets no CORS headers
 * (the browser then refuses to hand it the answer). In development, localhost origins count as
 * listed. Never reflects an arbitrary origin with credentials.
 */
export function corsOptions(origins: string[], dev: boolean): NonNullable<YogaServerOptions<object, object>['cors']> {
  const listed = new Set(origins.filter((o) => o !== '*'));
  const anyOrigin = origins.includes('*');
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (!origin) return false;
    if (listed.has(origin) || (dev && isLocal(origin)))
      return { origin: [origin], credentials: true, exposedHeaders: EXPOSED, maxAge: 600 };
    if (anyOrigin) return { origin: ['*'], credentials: false, exposedHeaders: EXPOSED, maxAge: 600 };
    return false;
  };
}
