import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createDecipheriv, createECDH, createHmac, createPublicKey, randomBytes, verify } from 'node:crypto';

/**
 * A Web Push service on loopback (RFC 8030) that checks what a real one checks: a VAPID
 * Authorization header (RFC 8292: an ES256 JWT for this origin, signed by the key it names) and an
 * aes128gcm body (RFC 8188/8291) it decrypts with the subscription's private key, as a browser would.
 * Each subscription answers as told: accept (201), gone (410), fail once then accept (500), down (503).
 */

export type WebPushBehaviour = 'accept' | 'gone' | 'fail-once' | 'down';

export interface ReceivedPush {
  subscription: string;
  payload: Record<string, string>;
  ttl: string | undefined;
  topic: string | undefined;
  vapidKey: string;
}

export interface FakeSubscription {
  name: string;
  endpoint: string;
  p256dh: string;
  auth: string;
}

const b64u = (b: Buffer) => b.toString('base64url');

function hmac(key: Buffer, data: Buffer) {
  return createHmac('sha256', key).update(data).digest();
}

/** RFC 8291 decryption of one aes128gcm record. */
function decrypt(body: Buffer, uaPrivate: ReturnType<typeof createECDH>, authSecret: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  const ecdhSecret = uaPrivate.computeSecret(asPublic);
  const uaPublic = uaPrivate.getPublicKey();
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic, Buffer.from([1])]);
  const ikm = hmac(hmac(authSecret, ecdhSecret), keyInfo).subarray(0, 32);
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
  const d = createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const plain = Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - 16)), d.final()]);
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (plain[end] !== 2) throw new Error('bad padding delimiter');
  return plain.subarray(0, end);
}

/** Checks `vapid t=<jwt>, k=<key>`: ES256 over header.payload with the named key, aud = our origin, not expired. */
function checkVapid(header: string | undefined, origin: string): string {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!m) throw new Error(`no VAPID authorization: ${header}`);
  const [, jwt, k] = m as unknown as [string, string, string];
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const raw = Buffer.from(k, 'base64url');
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33, 65)) },
    format: 'jwk',
  });
  if (!verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')))
    throw new Error('VAPID signature does not verify');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { aud: string; exp: number; sub: string };
  if (claims.aud !== origin) throw new Error(`VAPID aud ${claims.aud} is not ${origin}`);
  if (claims.exp * 1000 < Date.now()) throw new Error('VAPID token expired');
  if (!/^(mailto:|https:)/.test(claims.sub)) throw new Error('VAPID sub must be mailto: or https:');
  return k;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startWebPushFake(tls: { key: string; cert: string }) {
  const subs = new Map<string, { ecdh: ReturnType<typeof createECDH>; auth: Buffer; behaviour: WebPushBehaviour }>();
  const received: ReceivedPush[] = [];
  /** Requests answered 4xx/5xx, and protocol errors (a bad VAPID header or body fails the test). */
  const refused: { subscription: string; status: number }[] = [];
  const errors: string[] = [];
  let origin = '';
  const server: Server = createServer(tls, (req, res) => {
    void (async () => {
      const name = decodeURIComponent((req.url ?? '').replace(/^\/push\//, ''));
      const body = await bodyOf(req);
      const sub = subs.get(name);
      if (req.method !== 'POST' || !sub) {
        refused.push({ subscription: name, status: 404 });
        return res.writeHead(404).end();
      }
      try {
        const vapidKey = checkVapid(req.headers.authorization, origin);
        if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error('content-encoding must be aes128gcm');
        if (sub.behaviour === 'gone') {
          refused.push({ subscription: name, status: 410 });
          return res.writeHead(410).end();
        }
        if (sub.behaviour === 'down' || sub.behaviour === 'fail-once') {
          if (sub.behaviour === 'fail-once') sub.behaviour = 'accept';
          refused.push({ subscription: name, status: 500 });
          return res.writeHead(500).end();
        }
        const payload = JSON.parse(decrypt(body, sub.ecdh, sub.auth).toString('utf8')) as Record<string, string>;
        received.push({
          subscription: name,
          payload,
          ttl: req.headers.ttl as string | undefined,
          topic: req.headers.topic as string | undefined,
          vapidKey,
        });
        res.writeHead(201).end();
      } catch (err) {
        errors.push(`${name}: ${(err as Error).message}`);
        res.writeHead(400).end();
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    received,
    refused,
    errors,
    /** A browser subscription at this service: its endpoint and public keys, the private key kept here. */
    subscription(name: string, behaviour: WebPushBehaviour = 'accept'): FakeSubscription {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      subs.set(name, { ecdh, auth, behaviour });
      return {
        name,
        endpoint: `${origin}/push/${encodeURIComponent(name)}`,
        p256dh: b64u(ecdh.getPublicKey()),
        auth: b64u(auth),
      };
    },
    behave(name: string, behaviour: WebPushBehaviour) {
      subs.get(name)!.behaviour = behaviour;
    },
    to(name: string) {
      return received.filter((r) => r.subscription === name);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export type WebPushFake = Awaited<ReturnType<typeof startWebPushFake>>;

export type ProviderBehaviour = 'accept' | 'gone' | 'down';

function verifyJwt(jwt: string, key: Parameters<typeof verify>[2], alg: 'RS256' | 'ES256') {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string; kid?: string };
  if (header.alg !== alg) throw new Error(`alg ${header.alg}`);
  const ok = verify(
    'sha256',
    Buffer.from(`${h}.${p}`),
    alg === 'ES256' ? { key: key as never, dsaEncoding: 'ieee-p1363' } : key,
    Buffer.from(s, 'base64url'),
  );
  if (!ok) throw new Error('JWT signature does not verify');
  return { header, claims: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown> };
}

/**
 * FCM HTTP v1 on loopback (HTTPS): an OAuth token endpoint that checks the service account's RS256
 * assertion, and `projects/{id}/messages:send` that checks the bearer token it issued. Tokens
 * answer as told: accept (200), gone (404 UNREGISTERED), down (503).
 */
export async function startFcmFake(tls: { key: string; cert: string }) {
  const { generateKeyPairSync } = await import('node:crypto');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const behaviours = new Map<string, ProviderBehaviour>();
  const received = new Map<string, Record<string, string>[]>();
  const issued = new Set<string>();
  const errors: string[] = [];
  let origin = '';
  const server = createServer(tls, (req, res) => {
    void (async () => {
      const body = (await bodyOf(req)).toString();
      const json = (status: number, v: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
      try {
        if (req.url === '/token') {
          const form = new URLSearchParams(body);
          if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') throw new Error('grant_type');
          const { claims } = verifyJwt(form.get('assertion') ?? '', publicKey, 'RS256');
          if (claims['aud'] !== `${origin}/token`) throw new Error(`aud ${String(claims['aud'])}`);
          if (claims['scope'] !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error('scope');
          const token = randomBytes(16).toString('hex');
          issued.add(token);
          return json(200, { access_token: token, expires_in: 3600, token_type: 'Bearer' });
        }
        if (req.url !== '/v1/projects/demo-project/messages:send') return json(404, { error: { status: 'NOT_FOUND' } });
        const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
        if (!issued.has(bearer)) return json(401, { error: { status: 'UNAUTHENTICATED' } });
        const msg = (JSON.parse(body) as { message: { token: string; data: Record<string, string> } }).message;
        const b = behaviours.get(msg.token);
        if (b === 'down') return json(503, { error: { status: 'UNAVAILABLE' } });
        if (b !== 'accept')
          return json(404, {
            error: {
              status: 'NOT_FOUND',
              details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }],
            },
          });
        received.set(msg.token, [...(received.get(msg.token) ?? []), msg.data]);
        return json(200, { name: `projects/demo-project/messages/${randomBytes(4).toString('hex')}` });
      } catch (err) {
        errors.push((err as Error).message);
        return json(400, { error: { status: 'INVALID_ARGUMENT' } });
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const serviceAccount = {
    type: 'service_account',
    project_id: 'demo-project',
    client_email: 'push@demo-project.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    token_uri: `${origin}/token`,
  };
  return {
    origin,
    serviceAccount,
    errors,
    device(token: string, behaviour: ProviderBehaviour) {
      behaviours.set(token, behaviour);
      return token;
    },
    received: (token: string) => received.get(token) ?? [],
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * APNs on loopback: an HTTP/2 TLS server that checks the provider token (ES256, kid, iss) and
 * apns-topic. Device tokens answer as told: accept (200), gone (410 Unregistered), down (503).
 */
export async function startApnsFake(
  tls: { key: string; cert: string },
  ids: { keyId: string; teamId: string; topic: string },
) {
  const { generateKeyPairSync } = await import('node:crypto');
  const { createSecureServer } = await import('node:http2');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const behaviours = new Map<string, ProviderBehaviour>();
  const received = new Map<string, Record<string, unknown>[]>();
  const errors: string[] = [];
  const server = createSecureServer(tls);
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const reply = (status: number, reason?: string) => {
        stream.respond({ ':status': status, 'content-type': 'application/json' });
        stream.end(reason ? JSON.stringify({ reason }) : '');
      };
      try {
        const m = /^\/3\/device\/([0-9a-f]+)$/.exec(String(headers[':path']));
        if (headers[':method'] !== 'POST' || !m) return reply(404, 'BadPath');
        const jwt = String(headers['authorization'] ?? '').replace(/^bearer /, '');
        const { header, claims } = verifyJwt(jwt, publicKey, 'ES256');
        if (header.kid !== ids.keyId || claims['iss'] !== ids.teamId) return reply(403, 'InvalidProviderToken');
        if (headers['apns-topic'] !== ids.topic) return reply(400, 'TopicDisallowed');
        if (!/^[0-9a-f-]{36}$/.test(String(headers['apns-id']))) return reply(400, 'BadMessageId');
        const b = behaviours.get(m[1]!);
        if (b === 'down') return reply(503, 'ServiceUnavailable');
        if (b !== 'accept') return reply(410, 'Unregistered');
        received.set(m[1]!, [...(received.get(m[1]!) ?? []), JSON.parse(Buffer.concat(chunks).toString()) as never]);
        return reply(200);
      } catch (err) {
        errors.push((err as Error).message);
        return reply(403, 'InvalidProviderToken');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    signingKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    errors,
    device(token: string, behaviour: ProviderBehaviour) {
      behaviours.set(token, behaviour);
      return token;
    },
    received: (token: string) => received.get(token) ?? [],
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
