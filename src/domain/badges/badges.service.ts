import type { ServiceDeps } from '../deps.js';
import type { NotificationLevel } from '../../generated/prisma/client.js';

export interface ChannelBadgeRow {
  channelId: bigint;
  lastSeq: bigint;
  lastReadSeq: bigint;
  mentionCount: number;
  notificationLevel: NotificationLevel;
  muted: boolean;
  /** A direct message or group DM (its count is shown, so every message is due). */
  isDirect: boolean;
}

export interface ThreadBadgeRow {
  rootId: bigint;
  channelId: bigint;
  unreadCount: number;
  mentionCount: number;
}

/** Reads the counts a badge session starts from; the session then follows events. */
export function createBadgesService(deps: ServiceDeps) {
  const { prisma } = deps;
  return {
    async channelState(userId: bigint, channelId?: bigint): Promise<ChannelBadgeRow[]> {
      return prisma.$queryRaw<ChannelBadgeRow[]>`
        SELECT cm.channel_id AS "channelId", c.last_seq AS "lastSeq", cm.last_read_seq AS "lastReadSeq",
               cm.mention_count AS "mentionCount", cm.notification_level AS "notificationLevel", cm.muted,
               c.kind = 'DIRECT' AS "isDirect"
        FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
        WHERE cm.user_id = ${userId} AND (${channelId ?? null}::bigint IS NULL OR cm.channel_id = ${channelId ?? null}::bigint)`;
    },
    async threadState(userId: bigint): Promise<ThreadBadgeRow[]> {
      return prisma.threadFollower.findMany({
        where: { userId },
        select: { rootId: true, channelId: true, unreadCount: true, mentionCount: true },
      });
    },
  };
}

export type BadgesService = ReturnType<typeof createBadgesService>;
