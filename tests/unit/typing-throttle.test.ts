import { describe, expect, it } from 'vitest';
import { createTypingService, TYPING_THROTTLE_MS, TYPING_TTL_MS } from '../../src/domain/typing/typing.service.js';
import type { ServiceDeps } from '../../src/domain/deps.js';
import type { ChannelsService } from '../../src/domain/channels/channels.service.js';
import type { MessagesService } from '../../src/domain/messages/messages.service.js';
import type { ChatEvent } from '../../src/domain/events/events.js';
import type { Viewer } from '../../src/domain/viewer.js';

/** The throttle on a clock the test moves: no real time passes. */
function setup() {
  let clock = 1_700_000_000_000;
  const published: ChatEvent[] = [];
  const deps = { events: { publish: (e: ChatEvent) => published.push(e) } } as unknown as ServiceDeps;
  const channels = { accessMembership: () => Promise.resolve({}) } as unknown as ChannelsService;
  const messages = {
    accessMessage: () => Promise.resolve({ message: { channelId: 10n, threadRootId: null } }),
  } as unknown as MessagesService;
  const typing = createTypingService(deps, channels, messages, () => clock);
  return {
    typing,
    published,
    advance: (ms: number) => (clock += ms),
    now: () => clock,
  };
}

const ann = { userId: 1n } as Viewer;
const bob = { userId: 2n } as Viewer;

describe('typing throttle', () => {
  it('lets one event through per user and channel per window, and reopens after it', async () => {
    const { typing, published, advance, now } = setup();
    expect(await typing.typing(ann, 10n, null)).toBe(true);
    advance(TYPING_THROTTLE_MS - 1);
    expect(await typing.typing(ann, 10n, null)).toBe(false);
    expect(published).toHaveLength(1);
    advance(1); // exactly one window after the first event
    expect(await typing.typing(ann, 10n, null)).toBe(true);
    expect(published).toHaveLength(2);
    expect(published[1]).toMatchObject({
      type: 'Typing',
      userId: '1',
      channelId: '10',
      expiresAt: new Date(now() + TYPING_TTL_MS).toISOString(),
    });
    advance(1);
    expect(await typing.typing(ann, 10n, null)).toBe(false); // the window restarted at the last event
  });

  it('keeps a window per user, per channel and per thread', async () => {
    const { typing, advance } = setup();
    expect(await typing.typing(ann, 10n, null)).toBe(true);
    expect(await typing.typing(bob, 10n, null)).toBe(true);
    expect(await typing.typing(ann, 11n, null)).toBe(true);
    expect(await typing.typing(ann, 10n, 500n)).toBe(true); // a thread of channel 10
    advance(10);
    expect(await typing.typing(ann, 10n, 500n)).toBe(false);
    expect(await typing.typing(ann, 10n, null)).toBe(false);
    expect(await typing.typing(bob, 10n, null)).toBe(false);
    expect(await typing.typing(ann, 11n, null)).toBe(false);
  });

  it('forgets expired windows, so entries do not pile up', async () => {
    const { typing, advance } = setup();
    for (let c = 1n; c <= 50n; c++) await typing.typing(ann, c, null);
    expect(typing.size()).toBe(50);
    advance(TYPING_THROTTLE_MS);
    expect(await typing.typing(bob, 999n, null)).toBe(true);
    expect(typing.size()).toBe(1);
  });
});
