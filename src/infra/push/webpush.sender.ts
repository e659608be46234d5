import { Agent } from 'node:https';
import webpush from 'web-push';
import type { PushSender } from './push.port.js';
import { pushData } from './push.port.js';

export interface WebPushConfig {
  /** VAPID key pair (base64url, as `web-push generate-vapid-keys` prints) and the contact (mailto: or https:). */
  publicKey: string;
  privateKey: string;
  subject: string;
  /** Seconds the push service keeps an undelivered message. */
  ttlSeconds?: number;
  timeoutMs?: number;
  /** Extra trusted CA certificates (PEM). */
  ca?: string;
}

const VAPID_TTL_S = 12 * 3600;

/** Web Push (RFC 8030, VAPID RFC 8292, payload encryption RFC 8291) through the `web-push` library. */
export function createWebPushSender(cfg: WebPushConfig): PushSender {
  // Signing the VAPID JWT (ES256) costs more CPU than encrypting the push: bench:notify measured it
  // at about 2/3 of the sender's time. It depends only on the push service's origin, so one header
  // is signed per origin and reused until an hour before it expires (RFC 8292 allows 24 h).
  const vapid = new Map<string, { header: string; renewAt: number }>();
  const vapidHeader = (endpoint: string): string => {
    const audience = new URL(endpoint).origin;
    const now = Date.now();
    const hit = vapid.get(audience);
    if (hit && hit.renewAt > now) return hit.header;
    const { Authorization } = webpush.getVapidHeaders(
      audience,
      cfg.subject,
      cfg.publicKey,
      cfg.privateKey,
      'aes128gcm',
      Math.floor(now / 1000) + VAPID_TTL_S,
    );
    if (vapid.size >= 1_000) vapid.clear(); // a handful of push services in practice
    vapid.set(audience, { header: Authorization, renewAt: now + (VAPID_TTL_S - 3_600) * 1000 });
    return Authorization;
  };
  // Connections to a push service are kept open: one message fans out to many of its subscriptions.
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ...(cfg.ca ? { ca: cfg.ca } : {}) });
  return {
    platforms: ['WEB_PUSH'],
    async send(device, message) {
      if (!device.p256dh || !device.auth) return 'rejected';
      try {
        await webpush.sendNotification(
          { endpoint: device.token, keys: { p256dh: device.p256dh, auth: device.auth } },
          JSON.stringify(pushData(message)),
          {
            // The VAPID header is ours (cached above): null stops web-push from signing its own.
            vapidDetails: null as unknown as undefined,
            headers: { Authorization: vapidHeader(device.token) },
            TTL: cfg.ttlSeconds ?? 3_600,
            timeout: cfg.timeoutMs ?? 10_000,
            // Replaces an undelivered push about the same message on the push service.
            topic: `m${message.messageId}`.slice(0, 32),
            urgency: 'high',
            agent,
          },
        );
        return 'sent';
      } catch (err) {
        const status = err instanceof webpush.WebPushError ? err.statusCode : 0;
        if (status === 404 || status === 410) return 'gone';
        if (status === 0 || status === 408 || status === 429 || status >= 500) return 'retry';
        return 'rejected';
      }
    },
    close() {
      agent.destroy();
      return Promise.resolve();
    },
  };
}
