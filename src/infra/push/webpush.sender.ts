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

/** Web Push (RFC 8030, VAPID RFC 8292, payload encryption RFC 8291) through the `web-push` library. */
export function createWebPushSender(cfg: WebPushConfig): PushSender {
  const vapidDetails = { subject: cfg.subject, publicKey: cfg.publicKey, privateKey: cfg.privateKey };
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
            vapidDetails,
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
