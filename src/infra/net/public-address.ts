/**
 * Which network addresses a server-side fetch of a user-supplied URL may reach (outgoing webhooks,
 * link unfurls): the one SSRF rule, written once. Private, loopback, link-local, unique-local,
 * CGNAT, multicast, unspecified, reserved and translation (NAT64, 6to4, Teredo) ranges are refused; IPv4 written as
 * IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is checked as the IPv4 address it is (node's BlockList
 * does that), and decimal, octal or hex IPv4 hosts (`http://2130706433/`, `http://0x7f.1/`) are
 * normalized to dotted quads by the WHATWG URL parser before any check.
 *
 * A check before the request is not enough (DNS rebinding: the name resolves to a public address
 * for the check and to 127.0.0.1 for the connection), so `createGuardedAgent` checks at connect
 * time: its lookup returns only public addresses, IP-literal hosts are checked before connecting,
 * and the connected socket's peer address is checked again before any byte of the request is sent.
 */
import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';

const REFUSED = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local (cloud metadata at 169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  REFUSED.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 96], // unspecified, loopback, IPv4-compatible (deprecated)
  ['64:ff9b::', 96], // NAT64: would reach the IPv4 it embeds
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 32], // Teredo
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const)
  REFUSED.addSubnet(net, bits, 'ipv6');

/** Whether an IP address (v4, v6 or IPv4-mapped v6; brackets allowed) is public. Not an IP: false. */
export function isPublicAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '');
  const family = isIP(ip);
  if (family === 0) return false;
  return !REFUSED.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

export class PrivateAddressError extends Error {
  override name = 'PrivateAddressError';
  readonly code = 'EPRIVATEADDRESS';
}

/**
 * A `lookup` for net/tls.connect that resolves as usual and keeps only public addresses (all when
 * `allowPrivate`); none left is an error, so no connection to a refused address is ever opened.
 */
export function publicOnlyLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const ok = allowPrivate ? addresses : addresses.filter((a) => isPublicAddress(a.address));
      if (ok.length === 0)
        return callback(new PrivateAddressError(`${hostname} resolves only to refused addresses`), '', 0);
      if (options.all) (callback as unknown as (e: null, a: typeof ok) => void)(null, ok);
      else callback(null, ok[0]!.address, ok[0]!.family);
    });
  };
}

/**
 * An undici Agent whose connections reach public addresses only (unless `allowPrivate`), checked
 * at connect time: names through `publicOnlyLookup`, IP literals before connecting, and the peer
 * address of every socket before it is handed to the request.
 */
export function createGuardedAgent(opts: { allowPrivate: boolean; connectTimeoutMs: number }): Agent {
  const base = buildConnector({ timeout: opts.connectTimeoutMs, lookup: publicOnlyLookup(opts.allowPrivate) });
  const connect: buildConnector.connector = (options, callback) => {
    if (opts.allowPrivate) return base(options, callback);
    const host = options.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !isPublicAddress(host)) {
      callback(new PrivateAddressError(`${host} is a refused address`), null);
      return;
    }
    base(options, (err, socket) => {
      if (err || !socket) return callback(err ?? new Error('no socket'), null);
      const peer = socket.remoteAddress;
      if (!peer || !isPublicAddress(peer)) {
        socket.destroy();
        return callback(new PrivateAddressError(`connected to a refused address (${peer ?? 'unknown'})`), null);
      }
      callback(null, socket);
    });
  };
  return new Agent({ connect });
}

/**
 * Parses and checks a URL a user supplied: http or https, no credentials, and (unless
 * `allowPrivate`) a host that resolves only to public addresses. For a clear error early (e.g. when
 * a webhook is registered); the connection itself is guarded by `createGuardedAgent`.
 */
export async function checkPublicUrl(raw: string, opts: { allowPrivate: boolean }): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefusedError('url is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UrlRefusedError('url must be http or https');
  if (url.username || url.password) throw new UrlRefusedError('url must not carry credentials');
  if (opts.allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [host]
    : await new Promise<string[]>((resolve, reject) =>
        dnsLookup(host, { all: true }, (err, a) => (err ? reject(err) : resolve(a.map((x) => x.address)))),
      );
  if (addresses.some((a) => !isPublicAddress(a)))
    throw new UrlRefusedError('url points at a private or loopback address');
  return url;
}

export class UrlRefusedError extends Error {
  override name = 'UrlRefusedError';
}
