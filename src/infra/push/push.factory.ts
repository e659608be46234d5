import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { NotifyConfig } from '../../config.js';
import { createPushRouter, type PushSender } from './push.port.js';
import { createWebPushSender } from './webpush.sender.js';
import { createFcmSender } from './fcm.sender.js';
import { createApnsSender } from './apns.sender.js';

/** The push senders the configuration turns on, behind one router (platforms without one are refused). */
export function createPushSender(config: NotifyConfig, log: Logger): PushSender {
  const ca = config.caFile ? readFileSync(config.caFile, 'utf8') : undefined;
  const senders: PushSender[] = [];
  if (config.webPush) senders.push(createWebPushSender({ ...config.webPush, ca }));
  if (config.fcm) senders.push(createFcmSender({ ...config.fcm, ca }));
  if (config.apns) senders.push(createApnsSender({ ...config.apns, ca }));
  const router = createPushRouter(senders);
  log.info({ push: router.platforms }, 'push providers');
  return router;
}
