import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatEvent, EventPublisher } from '../../src/domain/events/events.js';
import type { Presence, PresenceOptions } from '../../src/infra/presence/presence.port.js';
import { waitUntil } from '../helpers/eventually.js';

/** What every presence store does, run against the in-memory one and the Redis one. */
export function describePresenceContract(
  name: string,
  make: (events: EventPublisher, opts: PresenceOptions) => Promise<{ presence: Presence; close: () => Promise<void> }>,
) {
  describe(`presence contract: ${name}`, () => {
    const published: ChatEvent[] = [];
    let presence: Presence;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ presence, close } = await make({ publish: (e) => published.push(e) }, { idleMs: 1_000, offlineGraceMs: 150 }));
    });
    afterAll(() => close?.());

    const statuses = (userId: string) =>
      published
        .filter((e) => e.type === 'PresenceChanged' && e.userId === userId)
        .map((e) => (e as { status: string }).status);
    const until = async (check: () => boolean, ms = 3_000) => {
      const end = Date.now() + ms;
      while (!check()) {
        if (Date.now() > end) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 10));
      }
    };

    it('is OFFLINE without connections and ONLINE with one, publishing each change once', async () => {
      expect(await presence.get(['u1'])).toEqual([{ userId: 'u1', status: 'OFFLINE', lastActiveAt: null }]);
      await presence.connect('u1', 'c1');
      await presence.connect('u1', 'c2');
      expect((await presence.get(['u1']))[0]!.status).toBe('ONLINE');
      expect(statuses('u1')).toEqual(['ONLINE']);
      expect(await presence.onlineAmong(['u1', 'u2'])).toEqual(['u1']);
    });

    it('goes OFFLINE only after the last connection closed and the grace period passed', async () => {
      await presence.disconnect('u1', 'c1');
      expect((await presence.get(['u1']))[0]!.status).toBe('ONLINE');
      await presence.disconnect('u1', 'c2');
      expect((await presence.get(['u1']))[0]!.status).not.toBe('OFFLINE'); // within the grace period
      await until(() => statuses('u1').at(-1) === 'OFFLINE');
      expect((await presence.get(['u1']))[0]!.status).toBe('OFFLINE');
      expect(await presence.onlineAmong(['u1'])).toEqual([]);
    });

    it('keeps a reconnect within the grace period from flickering', async () => {
      await presence.connect('u3', 'a');
      await presence.disconnect('u3', 'a');
      await presence.connect('u3', 'b');
      await new Promise((r) => setTimeout(r, 300));
      expect(statuses('u3')).toEqual(['ONLINE']);
      await presence.disconnect('u3', 'b');
    });

    it('honours DND and AWAY, and AUTO goes AWAY when idle and back on activity', async () => {
      await presence.connect('u4', 'x');
      expect((await presence.setStatus('u4', 'DND')).status).toBe('DND');
      expect((await presence.setStatus('u4', 'AWAY')).status).toBe('AWAY');
      expect((await presence.setStatus('u4', 'AUTO')).status).toBe('ONLINE');
      await until(() => statuses('u4').at(-1) === 'AWAY', 4_000);
      // Activity writes may be throttled per user; setStatus(AUTO) counts as activity too.
      presence.activity('u4');
      await presence.setStatus('u4', 'AUTO');
      await until(() => statuses('u4').at(-1) === 'ONLINE', 4_000);
      await presence.disconnect('u4', 'x');
    });

    it('knows who views a channel or thread on any connection, until the last view is undone', async () => {
      await presence.connect('v1', 'a');
      await presence.connect('v1', 'b');
      const a = presence.view('v1', 'a', 'c:1');
      const b = presence.view('v1', 'b', 'c:1');
      const t = presence.view('v1', 'a', 't:9');
      await waitUntil(async () => (await presence.viewingAmong(['v1', 'v2'], 'c:1')).length === 1);
      expect(await presence.viewingAmong(['v1', 'v2'], 'c:1')).toEqual(['v1']);
      expect(await presence.viewingAmong(['v1'], 't:9')).toEqual(['v1']);
      expect(await presence.viewingAmong(['v1'], 'c:2')).toEqual([]);
      a();
      a(); // an undo runs once
      expect(await presence.viewingAmong(['v1'], 'c:1')).toEqual(['v1']);
      b();
      t();
      await waitUntil(async () => (await presence.viewingAmong(['v1'], 'c:1')).length === 0);
      expect(await presence.viewingAmong(['v1'], 't:9')).toEqual([]);
      await presence.disconnect('v1', 'a');
      await presence.disconnect('v1', 'b');
    });
  });
}
