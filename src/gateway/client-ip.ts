import proxyaddr from 'proxy-addr';

/** What the client address is read from: an HTTP request or what a socket keeps of its upgrade request. */
export interface AddressedRequest {
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string | undefined };
}

/**
 * The client's address for per-address limits: the TCP peer, unless that peer is a trusted proxy
 * (TRUST_PROXY: addresses, CIDR ranges, or proxy-addr's names `loopback`, `linklocal`,
 * `uniquelocal`), then the nearest address in X-Forwarded-For that is not trusted. Behind a proxy
 * without this setting every client is the proxy and shares one bucket. proxy-addr is the rule
 * Express uses, taken rather than rewritten.
 */
export function createClientIp(trusted: readonly string[]): (req: AddressedRequest) => string {
  if (!trusted.length) return (req) => req.socket.remoteAddress ?? '';
  const trust = proxyaddr.compile([...trusted]);
  return (req) => (req.socket.remoteAddress ? proxyaddr(req as unknown as Parameters<typeof proxyaddr>[0], trust) : '');
}
