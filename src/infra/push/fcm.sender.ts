import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { createSign } from 'node:crypto';
import type { PushSender } from './push.port.js';
import { pushData } from './push.port.js';
import { postJson } from './http-json.js';

/** The fields of a Google service account key file that FCM needs. */
interface ServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  token_uri: string;
}

export interface FcmConfig {
  serviceAccountFile: string;
  /** https://fcm.googleapis.com, or a fake in tests. */
  endpoint: string;
  ca?: string;
  timeoutMs?: number;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const b64u = (v: string | Buffer) => Buffer.from(v).toString('base64url');

/**
 * FCM HTTP v1 (`projects/{id}/messages:send`) with OAuth 2 access tokens minted from a service
 * account (an RS256 JWT exchanged at its token_uri), cached until shortly before they expire.
 * UNREGISTERED / 404 removes the device; 429 and 5xx are retried; a 401 refreshes the token and retries.
 */
export function createFcmSender(cfg: FcmConfig): PushSender {
  const account = JSON.parse(readFileSync(cfg.serviceAccountFile, 'utf8')) as ServiceAccount;
  for (const k of ['project_id', 'client_email', 'private_key', 'token_uri'] as const)
    if (!account[k]) throw new Error(`FCM service account file lacks ${k}`);
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ...(cfg.ca ? { ca: cfg.ca } : {}) });
  const timeoutMs = cfg.timeoutMs ?? 10_000;
  let token: { value: string; expiresAt: number } | null = null;
  let minting: Promise<string> | null = null;

  async function mint(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const head = b64u(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
    const claims = b64u(
      JSON.stringify({ iss: account.client_email, scope: SCOPE, aud: account.token_uri, iat: now, exp: now + 3600 }),
    );
    const sig = createSign('RSA-SHA256').update(`${head}.${claims}`).sign(account.private_key).toString('base64url');
    const r = await postJson(account.token_uri, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: `${head}.${claims}.${sig}`,
      }).toString(),
      timeoutMs,
      agent,
    });
    const body = r.body as { access_token?: string; expires_in?: number } | null;
    if (r.status !== 200 || !body?.access_token) throw new Error(`FCM token request failed with HTTP ${r.status}`);
    token = { value: body.access_token, expiresAt: Date.now() + ((body.expires_in ?? 3600) - 60) * 1000 };
    return token.value;
  }

  function accessToken(): Promise<string> {
    if (token && Date.now() < token.expiresAt) return Promise.resolve(token.value);
    minting ??= mint().finally(() => (minting = null));
    return minting;
  }

  const url = `${cfg.endpoint.replace(/\/$/, '')}/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`;

  return {
    platforms: ['FCM'],
    async send(device, message) {
      const body = JSON.stringify({
        message: {
          token: device.token,
          notification: { title: message.title, body: message.body },
          data: pushData(message),
          android: { priority: 'high', collapse_key: `m${message.messageId}` },
        },
      });
      for (let attempt = 0; attempt < 2; attempt++) {
        let r: { status: number; body: unknown };
        try {
          r = await postJson(url, {
            headers: { authorization: `Bearer ${await accessToken()}` },
            body,
            timeoutMs,
            agent,
          });
        } catch {
          return 'retry';
        }
        if (r.status === 200) return 'sent';
        if (r.status === 401 && attempt === 0) {
          token = null; // expired or revoked: mint a new one once
          continue;
        }
        const code = errorCode(r.body);
        if (r.status === 404 || code === 'UNREGISTERED') return 'gone';
        if (r.status === 429 || r.status >= 500 || code === 'UNAVAILABLE' || code === 'INTERNAL') return 'retry';
        return 'rejected';
      }
      return 'retry';
    },
    close() {
      agent.destroy();
      return Promise.resolve();
    },
  };
}

/** FCM's error code from `error.details[].errorCode` (or `error.status`). */
function errorCode(body: unknown): string | null {
  const e = (body as { error?: { status?: string; details?: { errorCode?: string }[] } } | null)?.error;
  return e?.details?.find((d) => d.errorCode)?.errorCode ?? e?.status ?? null;
}
