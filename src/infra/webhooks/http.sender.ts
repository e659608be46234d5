import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** Private, loopback, link-local and other non-public ranges (refused unless allowPrivate). */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

export class WebhookUrlError extends Error {
  override name = 'WebhookUrlError';
}

/** The signature header value: `v1=` + hex HMAC-SHA256 of `<timestamp>.<body>`. */
export function signature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Delivers signed JSON over HTTP(S). Callback URLs must be http(s) and, unless `allowPrivate`,
 * resolve only to public addresses (checked when a subscription is made and before each delivery).
 */
export function createHttpWebhookSender(opts: { allowPrivate: boolean; timeoutMs?: number }) {
  async function checkUrl(raw: string): Promise<URL> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new WebhookUrlError('url is not a valid URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WebhookUrlError('url must be http or https');
    if (url.username || url.password) throw new WebhookUrlError('url must not carry credentials');
    if (opts.allowPrivate) return url;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
    for (const a of addresses) {
      if (PRIVATE.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4'))
        throw new WebhookUrlError('url points at a private or loopback address');
    }
    return url;
  }

  return {
    checkUrl: async (raw: string) => void (await checkUrl(raw)),
    /** POSTs the body signed with the secret; resolves with the status, rejects on network errors. */
    async deliver(raw: string, secret: string, eventId: string, body: string): Promise<{ status: number }> {
      const url = await checkUrl(raw);
      const timestamp = Math.floor(Date.now() / 1000);
      const res = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs ?? 5_000),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'chat-platform-webhooks/1',
          'x-chat-event-id': eventId,
          'x-chat-timestamp': String(timestamp),
          'x-chat-signature': signature(secret, timestamp, body),
        },
        body,
      });
      await res.arrayBuffer().catch(() => undefined);
      return { status: res.status };
    },
  };
}
