import { readFileSync } from 'node:fs';
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import type { PushSender } from './push.port.js';
import { pushData } from './push.port.js';

export interface ApnsConfig {
  /** The .p8 signing key (PKCS#8 PEM) from the Apple developer account. */
  keyFile: string;
  keyId: string;
  teamId: string;
  /** The app's bundle id (apns-topic). */
  topic: string;
  /** https://api.push.apple.com (or api.sandbox.push.apple.com, or a fake in tests). */
  host: string;
  ca?: string;
  timeoutMs?: number;
}

/** Apple refuses provider tokens older than an hour and throttles ones renewed more than every 20 minutes. */
const TOKEN_TTL_MS = 50 * 60_000;
const GONE_REASONS = new Set(['BadDeviceToken', 'Unregistered', 'DeviceTokenNotForTopic']);
const RETRY_REASONS = new Set(['TooManyRequests', 'InternalServerError', 'ServiceUnavailable', 'Shutdown']);

/**
 * APNs over HTTP/2 (one multiplexed connection, reopened when it closes) with token-based
 * authentication: an ES256 JWT of the team and key id, renewed every 50 minutes. 410 and
 * BadDeviceToken/Unregistered remove the device; 429/5xx are retried; an expired provider token is
 * renewed and the push tried again once. `apns-id` is derived from the idempotency key.
 */
export function createApnsSender(cfg: ApnsConfig): PushSender {
  const key = createPrivateKey(readFileSync(cfg.keyFile, 'utf8'));
  const timeoutMs = cfg.timeoutMs ?? 10_000;
  let session: ClientHttp2Session | null = null;
  let jwt: { value: string; at: number } | null = null;

  function providerToken(): string {
    if (jwt && Date.now() - jwt.at < TOKEN_TTL_MS) return jwt.value;
    const b64u = (v: string) => Buffer.from(v).toString('base64url');
    const head = b64u(JSON.stringify({ alg: 'ES256', kid: cfg.keyId }));
    const claims = b64u(JSON.stringify({ iss: cfg.teamId, iat: Math.floor(Date.now() / 1000) }));
    const sig = sign('sha256', Buffer.from(`${head}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }).toString(
      'base64url',
    );
    jwt = { value: `${head}.${claims}.${sig}`, at: Date.now() };
    return jwt.value;
  }

  function client(): ClientHttp2Session {
    if (session && !session.closed && !session.destroyed) return session;
    const s = connect(cfg.host, cfg.ca ? { ca: cfg.ca } : {});
    s.on('error', () => s.destroy());
    s.on('goaway', () => s.close());
    s.unref();
    session = s;
    return s;
  }

  function post(path: string, headers: Record<string, string>, body: string) {
    return new Promise<{ status: number; reason: string | null }>((resolve, reject) => {
      const req = client().request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: path,
        ...headers,
      });
      req.setTimeout(timeoutMs, () => req.close(constants.NGHTTP2_CANCEL));
      let status = 0;
      const chunks: Buffer[] = [];
      req.on('response', (h) => (status = Number(h[constants.HTTP2_HEADER_STATUS])));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        resolve({ status, reason: reasonOf(Buffer.concat(chunks).toString()) });
      });
      req.on('error', reject);
      req.on('close', () => {
        if (!status) reject(new Error('APNs stream closed without a response'));
      });
      req.end(body);
    });
  }

  return {
    platforms: ['APNS'],
    async send(device, message, idempotencyKey) {
      const body = JSON.stringify({
        aps: { alert: { title: message.title, body: message.body }, 'thread-id': message.channelId, sound: 'default' },
        ...pushData(message),
      });
      const h = createHash('sha256').update(idempotencyKey).digest('hex');
      const apnsId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
      for (let attempt = 0; attempt < 2; attempt++) {
        let r: { status: number; reason: string | null };
        try {
          r = await post(
            `/3/device/${encodeURIComponent(device.token)}`,
            {
              authorization: `bearer ${providerToken()}`,
              'apns-topic': cfg.topic,
              'apns-push-type': 'alert',
              'apns-priority': '10',
              'apns-id': apnsId,
              'apns-collapse-id': `m${message.messageId}`,
              'content-type': 'application/json',
            },
            body,
          );
        } catch {
          session?.destroy();
          session = null;
          return 'retry';
        }
        if (r.status === 200) return 'sent';
        if (r.status === 403 && r.reason === 'ExpiredProviderToken' && attempt === 0) {
          jwt = null;
          continue;
        }
        if (r.status === 410 || (r.reason !== null && GONE_REASONS.has(r.reason))) return 'gone';
        if (r.status === 429 || r.status >= 500 || (r.reason !== null && RETRY_REASONS.has(r.reason))) return 'retry';
        return 'rejected';
      }
      return 'retry';
    },
    close() {
      session?.close();
      session = null;
      return Promise.resolve();
    },
  };
}

/** APNs puts `{"reason": "..."}` in the body of a refusal. */
function reasonOf(text: string): string | null {
  if (!text) return null;
  try {
    return (JSON.parse(text) as { reason?: string }).reason ?? null;
  } catch {
    return null;
  }
}
