import type { NotificationLevelName } from '../events/events.js';
import { countsAsMention, type MemberSettings, type MentionFacts } from '../messages/mention-rule.js';

/**
 * Who is notified, and how, when a message is sent: the decision rule, written once. It builds on
 * the mention rule (domain/messages/mention-rule.ts: who a mention counts for, with channel level
 * and mute), so a badge and a push never disagree about what is a mention.
 *
 * Per recipient (a member of the message's channel, other than the author):
 *  - a reply in a thread that counts as a mention for them → THREAD_MENTION: push, and the
 *    thread's mention count (thread_followers.mention_count, written by the send);
 *  - a reply in a thread they follow → THREAD_REPLY: badge; push only at push level ALL;
 *  - a top-level message (or a reply also sent to the channel): in a DM or group DM →
 *    DIRECT_MESSAGE (push); a direct mention → MENTION; @channel/@here counting for them →
 *    CHANNEL_MENTION (push); any other message → CHANNEL_MESSAGE (push only at push level ALL,
 *    channel level ALL and not muted).
 * The push level is the channel override when set, else the user's (default MENTIONS); NONE
 * pushes nothing. Then a push is suppressed, in this order, when the user
 *  - muted the channel or DM (a direct mention still counts, as for badges),
 *  - is viewing that channel (or that thread, for a reply) on any connection,
 *  - was active within `activeSuppressMs` ("you're at your desk"),
 *  - is in do-not-disturb: presence set to DND, snoozed until later, or inside their DND schedule
 *    (minutes after local midnight in their time zone; a schedule may wrap past midnight).
 * An email digest may include DMs and mentions (not plain messages) not seen while viewing; the
 * digest job then waits for the user's `emailAfterMinutes` offline and checks they are still unread.
 */

export type PushLevel = NotificationLevelName;

export interface NotifyPrefs {
  pushLevel: PushLevel;
  /** Email a digest after this many minutes offline; null: never. */
  emailAfterMinutes: number | null;
  dndStartMinute: number | null;
  dndEndMinute: number | null;
  /** Epoch ms; notifications are held back until then. */
  snoozeUntil: number | null;
  timeZone: string;
}

export const DEFAULT_PREFS: NotifyPrefs = {
  pushLevel: 'MENTIONS',
  emailAfterMinutes: null,
  dndStartMinute: null,
  dndEndMinute: null,
  snoozeUntil: null,
  timeZone: 'UTC',
};

export interface NotifyMessage extends MentionFacts {
  direct: boolean;
  threadRootId: string | null;
  /** Listed in the channel: top-level, or a reply also sent to the channel. */
  listed: boolean;
}

export interface NotifyRecipient {
  member: MemberSettings & { pushLevel: PushLevel | null };
  prefs: NotifyPrefs;
  /** Follows the message's thread (replies only). */
  followsThread: boolean;
  /** Viewing the message's channel (or its thread, for a reply) on any connection anywhere. */
  viewing: boolean;
  /** Epoch ms of the last activity on any connection (null: unknown / offline long ago). */
  lastActiveAt: number | null;
  /** Presence set to DND by hand. */
  presenceDnd: boolean;
}

export type NotifyReason =
  'DIRECT_MESSAGE' | 'MENTION' | 'CHANNEL_MENTION' | 'THREAD_MENTION' | 'THREAD_REPLY' | 'CHANNEL_MESSAGE';

export type Suppression = 'MUTED' | 'PREFERENCE' | 'VIEWING' | 'ACTIVE' | 'DND';

export interface NotifyDecision {
  /** Why this message concerns the recipient at all (null: it does not). */
  reason: NotifyReason | null;
  push: boolean;
  /** Eligible for the email digest (sent later if still unread and offline long enough). */
  email: boolean;
  /** Raises the recipient's thread mention count. */
  threadMention: boolean;
  /** Why no push although there is a reason. */
  suppressedBy: Suppression | null;
}

export interface NotifyOptions {
  now: number;
  /** NOTIFY_ACTIVE_SUPPRESS_S in ms. */
  activeSuppressMs: number;
}

const NOTHING: NotifyDecision = { reason: null, push: false, email: false, threadMention: false, suppressedBy: null };

/** The reason a message concerns a recipient (before preferences and suppression), or null. */
export function reasonFor(m: NotifyMessage, r: Pick<NotifyRecipient, 'member' | 'followsThread'>): NotifyReason | null {
  const { member } = r;
  if (member.userId === m.authorId) return null;
  const mention = countsAsMention(member, m);
  if (m.threadRootId !== null) {
    if (mention) return 'THREAD_MENTION';
    if (r.followsThread) return 'THREAD_REPLY';
    if (!m.listed) return null;
  }
  if (m.direct) return 'DIRECT_MESSAGE';
  if (mention) return m.userIds.includes(member.userId) ? 'MENTION' : 'CHANNEL_MENTION';
  return 'CHANNEL_MESSAGE';
}

/** The decision for one recipient of one message. */
export function decideNotification(m: NotifyMessage, r: NotifyRecipient, opts: NotifyOptions): NotifyDecision {
  const reason = reasonFor(m, r);
  if (!reason) return NOTHING;
  const threadMention = reason === 'THREAD_MENTION';
  const important = reason !== 'THREAD_REPLY' && reason !== 'CHANNEL_MESSAGE';
  const level = r.member.pushLevel ?? r.prefs.pushLevel;
  const decided = (suppressedBy: Suppression | null): NotifyDecision => ({
    reason,
    push: suppressedBy === null,
    email: important && r.prefs.emailAfterMinutes !== null && suppressedBy !== 'MUTED' && suppressedBy !== 'VIEWING',
    threadMention,
    suppressedBy,
  });
  // Mute and channel level, as the badge shows them: a mention got past them in the mention rule.
  const mentioned = reason === 'MENTION' || reason === 'CHANNEL_MENTION' || reason === 'THREAD_MENTION';
  if (!mentioned && (r.member.muted || r.member.level === 'NONE')) return decided('MUTED');
  if (reason === 'CHANNEL_MESSAGE' && r.member.level !== 'ALL') return decided('PREFERENCE');
  if (level === 'NONE' || (!important && level !== 'ALL')) return decided('PREFERENCE');
  if (r.viewing) return decided('VIEWING');
  if (r.lastActiveAt !== null && opts.now - r.lastActiveAt < opts.activeSuppressMs) return decided('ACTIVE');
  if (inDnd(r, opts.now)) return decided('DND');
  return decided(null);
}

/** Presence DND, a snooze, or the DND schedule in the user's time zone. */
export function inDnd(r: Pick<NotifyRecipient, 'prefs' | 'presenceDnd'>, now: number): boolean {
  if (r.presenceDnd) return true;
  const p = r.prefs;
  if (p.snoozeUntil !== null && now < p.snoozeUntil) return true;
  if (p.dndStartMinute === null || p.dndEndMinute === null || p.dndStartMinute === p.dndEndMinute) return false;
  const minute = localMinute(now, p.timeZone);
  return p.dndStartMinute < p.dndEndMinute
    ? minute >= p.dndStartMinute && minute < p.dndEndMinute
    : minute >= p.dndStartMinute || minute < p.dndEndMinute;
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** Minutes after local midnight at `now` in an IANA time zone. */
export function localMinute(now: number, timeZone: string): number {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formats.set(timeZone, f);
  }
  const parts = f.formatToParts(new Date(now));
  const hour = Number(parts.find((x) => x.type === 'hour')?.value ?? 0);
  const minute = Number(parts.find((x) => x.type === 'minute')?.value ?? 0);
  return hour * 60 + minute;
}

/** Whether an IANA time zone name is known to this runtime. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
