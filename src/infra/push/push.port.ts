/**
 * The push port: one interface for every delivery channel (Web Push, FCM HTTP v1, APNs). A sender
 * makes one attempt and says how it went; the caller (the notification consumer) keeps the
 * delivery log, removes devices that are gone, and leaves retries to the outbox's back-off.
 */

export type PushPlatformName = 'WEB_PUSH' | 'FCM' | 'APNS';

export interface PushDeviceTarget {
  id: bigint;
  platform: PushPlatformName;
  /** Web Push: the endpoint URL; FCM: the registration token; APNs: the device token. */
  token: string;
  p256dh: string | null;
  auth: string | null;
}

/** What a push says: small, and nothing the recipient may not see. */
export interface PushMessage {
  title: string;
  /** A trimmed preview. */
  body: string;
  channelId: string;
  messageId: string;
  threadRootId: string | null;
  reason: string;
}

/**
 * sent: the provider accepted it. gone: the device is unregistered (404/410, UNREGISTERED): remove
 * it. rejected: a permanent refusal of this message (bad payload, wrong credentials for this
 * token): not retried, device kept. retry: the provider is down or throttling: try again later.
 */
export type PushOutcome = 'sent' | 'gone' | 'rejected' | 'retry';

export interface PushSender {
  readonly platforms: readonly PushPlatformName[];
  /** One attempt. `key` is the idempotency key (message and device), passed on where the provider takes one. */
  send(device: PushDeviceTarget, message: PushMessage, key: string): Promise<PushOutcome>;
  close(): Promise<void>;
}

/** Routes each device to the sender for its platform; a platform without one is rejected (device kept). */
export function createPushRouter(senders: PushSender[]): PushSender {
  const byPlatform = new Map<PushPlatformName, PushSender>();
  for (const s of senders) for (const p of s.platforms) byPlatform.set(p, s);
  return {
    platforms: [...byPlatform.keys()],
    send(device, message, key) {
      const s = byPlatform.get(device.platform);
      return s ? s.send(device, message, key) : Promise.resolve('rejected');
    },
    async close() {
      await Promise.all(senders.map((s) => s.close()));
    },
  };
}

/** The payload every platform carries (JSON, well under the 4 KB the providers allow). */
export function pushData(m: PushMessage): Record<string, string> {
  return {
    title: m.title,
    body: m.body,
    channelId: m.channelId,
    messageId: m.messageId,
    ...(m.threadRootId ? { threadRootId: m.threadRootId } : {}),
    reason: m.reason,
  };
}
