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
