import { Prisma } from '../../generated/prisma/client.js';
import type { NotificationLevelName } from '../events/events.js';

/**
 * The mention rule, written once. A listed message adds one to a channel member's mention count
 * when the member is not its author, their notification level is not NONE, and either
 *   - the message mentions them directly (`<@id>`), or
 *   - the channel is not muted for them and the message says `<!channel>`, or `<!here>` while
 *     they were online (at send time).
 * The send paths apply it in SQL (`mentionCountSql`), the markRead recount in SQL over stored
 * mentions (`recountSql`), and the badge sessions in memory (`countsAsMention`). A test checks that
 * the three agree on the whole table (tests/api/mention-rule.test.ts).
 */
export interface MemberSettings {
  userId: string;
  level: NotificationLevelName;
  muted: boolean;
}

export interface MentionFacts {
  authorId: string;
  /** Users mentioned directly (members of the workspace). */
  userIds: readonly string[];
  channel: boolean;
  here: boolean;
  /** Whether this member was online when the message was sent (only asked for @here). */
  wasOnline(userId: string): boolean;
}

/** The rule in memory (badge sessions). */
export function countsAsMention(member: MemberSettings, m: MentionFacts): boolean {
  if (member.userId === m.authorId || member.level === 'NONE') return false;
  if (m.userIds.includes(member.userId)) return true;
  if (member.muted) return false;
  return m.channel || (m.here && m.wasOnline(member.userId));
}

/** Whether a message can raise anyone's count at all (saves a statement when it cannot). */
export function mayCountForAnyone(m: {
  userIds: readonly unknown[];
  channel: boolean;
  hereOnline: readonly unknown[];
}) {
  return m.userIds.length > 0 || m.channel || m.hereOnline.length > 0;
}

/**
 * The rule as a condition over `channel_members` columns (user_id, notification_level, muted), for
 * the UPDATE that raises mention counts when a message is sent.
 */
export function mentionCountSql(m: {
  authorId: bigint;
  userIds: bigint[];
  channel: boolean;
  /** Members online at send time, when the message says @here (else empty). */
  hereOnline: bigint[];
}): Prisma.Sql {
  return Prisma.sql`(user_id <> ${m.authorId} AND notification_level::text <> 'NONE'
    AND (user_id = ANY(${m.userIds}::bigint[])
      OR (NOT muted AND (${m.channel} OR user_id = ANY(${m.hereOnline}::bigint[])))))`;
}

/**
 * The same rule over stored mentions (`message_mentions`, aliased `mm`; @here rows keep their
 * online recipients), for one member with their current settings: recounts a member's mentions
 * after a read position.
 */
export function recountSql(member: { userId: bigint; level: NotificationLevelName; muted: boolean }): Prisma.Sql {
  if (member.level === 'NONE') return Prisma.sql`false`;
  return Prisma.sql`(mm.user_id = ${member.userId}
    OR (${!member.muted} AND (mm.kind = 'CHANNEL' OR (mm.kind = 'HERE' AND ${member.userId} = ANY(mm.recipients)))))`;
}
