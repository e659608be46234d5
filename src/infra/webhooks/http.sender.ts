import { createHmac } from 'node:crypto';
import { fetch } from 'undici';
import { checkPublicUrl, createGuardedAgent } from '../net/public-address.js';

/** The signature header value: `v1=` + hex HMAC-SHA256 of `<timestamp>.<body>`. */
export function signature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Delivers signed JSON over HTTP(S). Callback URLs must be http(s) and, unless `allowPrivate`,
 * resolve only to public addresses: checked when a subscription is made (a clear error), and at
 * connect time on every delivery (the rule of infra/net/public-address.ts, so DNS rebinding cannot
 * switch the address between the check and the connection).
 */
export function createHttpWebhookSender(opts: { allowPrivate: boolean; timeoutMs?: number }) {
  const agent = createGuardedAgent({ allowPrivate: opts.allowPrivate, connectTimeoutMs: opts.timeoutMs ?? 5_000 });
  const checkUrl = (raw: string) => checkPublicUrl(raw, { allowPrivate: opts.allowPrivate });

  return {
    checkUrl: async (raw: string) => void (await checkUrl(raw)),
    /** POSTs the body signed with the secret; resolves with the status, rejects on network errors. */
    async deliver(raw: string, secret: string, eventId: string, body: string): Promise<{ status: number }> {
      const url = await checkUrl(raw);
      const timestamp = Math.floor(Date.now() / 1000);
      const res = await fetch(url, {
        method: 'POST',
        dispatcher: agent,
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
