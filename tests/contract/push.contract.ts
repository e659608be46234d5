import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PushDeviceTarget, PushMessage, PushSender } from '../../src/infra/push/push.port.js';

/** A sender wired to a loopback fake of its provider. */
export interface PushHarness {
  sender: PushSender;
  /** A sender and a device whose provider is at an address nobody listens on. */
  unreachable: { sender: PushSender; device: PushDeviceTarget };
  device(behaviour: 'accept' | 'gone' | 'down'): PushDeviceTarget;
  /** The data payloads the provider accepted for this device. */
  received(device: PushDeviceTarget): Record<string, unknown>[];
  /** Protocol errors the fake saw (bad credentials, bad body): must stay empty. */
  errors(): string[];
  close(): Promise<void>;
}

const message: PushMessage = {
  title: '#general',
  body: 'Ann: hello @someone',
  channelId: '101',
  messageId: '202',
  threadRootId: null,
  reason: 'MENTION',
};

/** What every delivery channel does, each against a loopback fake of its provider. */
export function describePushContract(name: string, make: () => Promise<PushHarness>) {
  describe(`push contract: ${name}`, () => {
    let h: PushHarness;
    beforeAll(async () => {
      h = await make();
    });
    afterAll(async () => {
      await h?.sender.close();
      await h?.unreachable.sender.close();
      await h?.close();
    });

    it('an accepted push is sent, with the title, the preview and the ids', async () => {
      const d = h.device('accept');
      expect(await h.sender.send(d, message, '202:1')).toBe('sent');
      expect(await h.sender.send(d, { ...message, messageId: '203' }, '203:1')).toBe('sent');
      const got = h.received(d);
      expect(got).toHaveLength(2);
      expect(got[0]).toMatchObject({
        title: '#general',
        body: 'Ann: hello @someone',
        channelId: '101',
        messageId: '202',
      });
      expect(h.errors()).toEqual([]);
    });

    it('an unregistered device is gone', async () => {
      expect(await h.sender.send(h.device('gone'), message, '202:2')).toBe('gone');
    });

    it('a provider error is retried later', async () => {
      expect(await h.sender.send(h.device('down'), message, '202:3')).toBe('retry');
    });

    it('an unreachable provider is retried later', async () => {
      expect(await h.unreachable.sender.send(h.unreachable.device, message, '202:4')).toBe('retry');
    });
  });
}
