import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PREFS,
  decideNotification,
  inDnd,
  localMinute,
  type NotifyMessage,
  type NotifyRecipient,
} from '../../src/domain/notifications/notify-rule.js';

/** The parts of the rule the API matrix cannot reach cheaply: presence DND, time zones, the activity window. */
const now = Date.UTC(2026, 11, 5, 21, 30); // 21:30 UTC = 22:30 in Berlin, 06:30 next day in Tokyo
const mention = (over: Partial<NotifyMessage> = {}): NotifyMessage => ({
  authorId: 'ann',
  userIds: ['bob'],
  channel: false,
  here: false,
  wasOnline: () => false,
  direct: false,
  threadRootId: null,
  listed: true,
  ...over,
});
const bob = (over: Partial<NotifyRecipient> = {}, prefs: Partial<NotifyRecipient['prefs']> = {}): NotifyRecipient => ({
  member: { userId: 'bob', level: 'ALL', muted: false, pushLevel: null },
  prefs: { ...DEFAULT_PREFS, ...prefs },
  followsThread: false,
  viewing: false,
  lastActiveAt: null,
  presenceDnd: false,
  ...over,
});
const opts = { now, activeSuppressMs: 120_000 };

describe('notify rule', () => {
  it.each([
    ['no suppression', bob(), true, null],
    ['presence set to DND', bob({ presenceDnd: true }), false, 'DND'],
    ['active 119 s ago', bob({ lastActiveAt: now - 119_000 }), false, 'ACTIVE'],
    ['active 120 s ago', bob({ lastActiveAt: now - 120_000 }), true, null],
    ['viewing beats active and DND', bob({ viewing: true, presenceDnd: true, lastActiveAt: now }), false, 'VIEWING'],
    [
      'DND 22:00-07:00 Berlin (22:30 there)',
      bob({}, { dndStartMinute: 1320, dndEndMinute: 420, timeZone: 'Europe/Berlin' }),
      false,
      'DND',
    ],
    [
      'DND 22:00-07:00 Tokyo (06:30 there)',
      bob({}, { dndStartMinute: 1320, dndEndMinute: 420, timeZone: 'Asia/Tokyo' }),
      false,
      'DND',
    ],
    [
      'DND 22:00-07:00 New York (16:30 there)',
      bob({}, { dndStartMinute: 1320, dndEndMinute: 420, timeZone: 'America/New_York' }),
      true,
      null,
    ],
    ['DND 09:00-17:00 UTC (21:30)', bob({}, { dndStartMinute: 540, dndEndMinute: 1020 }), true, null],
    ['empty DND schedule (start = end)', bob({}, { dndStartMinute: 600, dndEndMinute: 600 }), true, null],
    ['snoozed until later', bob({}, { snoozeUntil: now + 1 }), false, 'DND'],
    ['snooze ended', bob({}, { snoozeUntil: now }), true, null],
  ] as const)('%s', (_name, r, push, suppressedBy) => {
    const d = decideNotification(mention(), r, opts);
    expect({ push: d.push, suppressedBy: d.suppressedBy, reason: d.reason }).toEqual({
      push,
      suppressedBy,
      reason: 'MENTION',
    });
  });

  it('email digests take DMs and mentions, not plain messages, and not what was seen while viewing', () => {
    const withEmail = (r: NotifyRecipient) => ({ ...r, prefs: { ...r.prefs, emailAfterMinutes: 15 } });
    expect(decideNotification(mention(), withEmail(bob({ lastActiveAt: now })), opts).email).toBe(true);
    expect(decideNotification(mention({ direct: true, userIds: [] }), withEmail(bob()), opts).email).toBe(true);
    expect(decideNotification(mention({ userIds: [] }), withEmail(bob({}, { pushLevel: 'ALL' })), opts).email).toBe(
      false,
    );
    expect(decideNotification(mention(), withEmail(bob({ viewing: true })), opts).email).toBe(false);
    expect(decideNotification(mention(), bob(), opts).email).toBe(false);
  });

  it('the author is never notified, and @here counts only for who was online', () => {
    expect(decideNotification(mention({ authorId: 'bob' }), bob(), opts).reason).toBeNull();
    const here = mention({ userIds: [], here: true });
    expect(decideNotification(here, bob(), opts).push).toBe(false);
    expect(decideNotification({ ...here, wasOnline: (u) => u === 'bob' }, bob(), opts)).toMatchObject({
      reason: 'CHANNEL_MENTION',
      push: true,
    });
  });

  it('reads minutes in the time zone, and a wrapped schedule covers both sides of midnight', () => {
    expect(localMinute(now, 'UTC')).toBe(21 * 60 + 30);
    expect(localMinute(now, 'Asia/Kolkata')).toBe(3 * 60); // +05:30
    const wrapped = { dndStartMinute: 1380, dndEndMinute: 60, timeZone: 'UTC' };
    const at = (h: number, m: number) => Date.UTC(2026, 11, 5, h, m);
    expect(inDnd(bob({}, wrapped), at(23, 30))).toBe(true);
    expect(inDnd(bob({}, wrapped), at(0, 59))).toBe(true);
    expect(inDnd(bob({}, wrapped), at(1, 0))).toBe(false);
    expect(inDnd(bob({}, wrapped), at(22, 59))).toBe(false);
  });
});
