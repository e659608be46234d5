import { createServer } from 'node:net';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import webpush from 'web-push';
import { describePushContract } from '../contract/push.contract.js';
import { startApnsFake, startFcmFake, startWebPushFake } from '../helpers/push-fakes.js';
import { selfSignedCert } from '../helpers/tls.js';
import { createWebPushSender } from '../../src/infra/push/webpush.sender.js';
import { createFcmSender } from '../../src/infra/push/fcm.sender.js';
import { createApnsSender } from '../../src/infra/push/apns.sender.js';
import type { PushDeviceTarget } from '../../src/infra/push/push.port.js';

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const tls = selfSignedCert();
const dir = mkdtempSync(join(tmpdir(), 'push-'));
let n = 0;

describePushContract('Web Push (VAPID)', async () => {
  const fake = await startWebPushFake(tls);
  const vapid = webpush.generateVAPIDKeys();
  const cfg = { ...vapid, subject: 'mailto:ops@example.com', ca: tls.cert, timeoutMs: 2_000 };
  const port = await closedPort();
  return {
    sender: createWebPushSender(cfg),
    unreachable: {
      sender: createWebPushSender(cfg),
      device: { id: 0n, platform: 'WEB_PUSH', token: `https://127.0.0.1:${port}/push/x`, p256dh: 'x', auth: 'y' },
    },
    device(behaviour) {
      const s = fake.subscription(`w${++n}`, behaviour);
      return { id: BigInt(n), platform: 'WEB_PUSH', token: s.endpoint, p256dh: s.p256dh, auth: s.auth };
    },
    received: (d: PushDeviceTarget) => fake.to(decodeURIComponent(d.token.split('/push/')[1]!)).map((r) => r.payload),
    errors: () => fake.errors,
    close: fake.close,
  };
});

describePushContract('FCM HTTP v1', async () => {
  const fake = await startFcmFake(tls);
  const file = join(dir, 'service-account.json');
  writeFileSync(file, JSON.stringify(fake.serviceAccount));
  const cfg = { serviceAccountFile: file, ca: tls.cert, timeoutMs: 2_000 };
  return {
    sender: createFcmSender({ ...cfg, endpoint: fake.origin }),
    unreachable: {
      sender: createFcmSender({ ...cfg, endpoint: `https://127.0.0.1:${await closedPort()}` }),
      device: { id: 0n, platform: 'FCM', token: 'any', p256dh: null, auth: null },
    },
    device: (behaviour) => ({
      id: BigInt(++n),
      platform: 'FCM',
      token: fake.device(`fcm-token-${n}`, behaviour),
      p256dh: null,
      auth: null,
    }),
    received: (d) => fake.received(d.token),
    errors: () => fake.errors,
    close: fake.close,
  };
});

describePushContract('APNs (HTTP/2, token auth)', async () => {
  const ids = { keyId: 'ABC123DEFG', teamId: 'TEAM123456', topic: 'com.example.chat' };
  const fake = await startApnsFake(tls, ids);
  const keyFile = join(dir, 'AuthKey.p8');
  writeFileSync(keyFile, fake.signingKeyPem);
  const cfg = { ...ids, keyFile, ca: tls.cert, timeoutMs: 2_000 };
  return {
    sender: createApnsSender({ ...cfg, host: fake.origin }),
    unreachable: {
      sender: createApnsSender({ ...cfg, host: `https://127.0.0.1:${await closedPort()}` }),
      device: { id: 0n, platform: 'APNS', token: 'abcd', p256dh: null, auth: null },
    },
    device: (behaviour) => ({
      id: BigInt(++n),
      platform: 'APNS',
      token: fake.device(Buffer.from(`device-${++n}`).toString('hex'), behaviour),
      p256dh: null,
      auth: null,
    }),
    received: (d) => fake.received(d.token),
    errors: () => fake.errors,
    close: fake.close,
  };
});
