/** Channels: who may read a channel (accessChannel) and who may act in it (accessMembership). */
import type { ServiceDeps } from '../deps.js';
import { forbidden, notFound } from '../errors.js';
import type { Tx } from '../../infra/db/database.js';
import { requireScope, type Viewer } from '../viewer.js';
import type { Channel, ChannelMember, NotificationLevel } from '../../generated/prisma/client.js';

interface AccessRow extends Channel {
  mUserId: bigint | null;
  mJoinedAt: Date | null;
  mLastReadSeq: bigint | null;
  mLastReadMessageId: bigint | null;
  mMentionCount: number | null;
  mNotificationLevel: NotificationLevel | null;
  mMuted: boolean | null;
  mPushLevel: NotificationLevel | null;
  inWorkspace: boolean;
}

export interface ChannelAccess {
  channel: Channel;
  /** The viewer's membership, or null for a public channel they have not joined. */
  membership: ChannelMember | null;
}

export function createChannelAccess(prisma: ServiceDeps['prisma']) {
  /**
   * Loads a channel the viewer may read. Public channels are readable by every workspace member;
   * private channels and DMs only by their members. Anything else is NOT_FOUND, the same answer
   * as for an id that does not exist.
   */
  async function accessChannel(
    viewer: Viewer,
    channelId: bigint,
    db: Tx | typeof prisma = prisma,
  ): Promise<ChannelAccess> {
    requireScope(viewer, 'CHANNELS_READ');
    // One round trip: the channel, the viewer's membership, and whether they are in its workspace.
    const [row] = await db.$queryRaw<AccessRow[]>`
      SELECT c.id, c.workspace_id AS "workspaceId", c.kind::text AS kind, c.name, c.topic, c.dm_key AS "dmKey",
             c.created_by_id AS "createdById", c.created_at AS "createdAt", c.last_seq AS "lastSeq",
             c.last_message_id AS "lastMessageId", c.member_count AS "memberCount",
             cm.user_id AS "mUserId", cm.joined_at AS "mJoinedAt", cm.last_read_seq AS "mLastReadSeq",
             cm.last_read_message_id AS "mLastReadMessageId", cm.mention_count AS "mMentionCount",
             cm.notification_level::text AS "mNotificationLevel", cm.muted AS "mMuted",
             cm.push_level::text AS "mPushLevel",
             EXISTS (SELECT 1 FROM workspace_members wm WHERE wm.workspace_id = c.workspace_id AND wm.user_id = ${viewer.userId}) AS "inWorkspace"
      FROM channels c LEFT JOIN channel_members cm ON cm.channel_id = c.id AND cm.user_id = ${viewer.userId}
      WHERE c.id = ${channelId}`;
    if (!row || (viewer.kind === 'bot' && row.workspaceId !== viewer.workspaceId)) throw notFound('channel', channelId);
    const channel: Channel = {
      id: row.id,
      workspaceId: row.workspaceId,
      kind: row.kind,
      name: row.name,
      topic: row.topic,
      dmKey: row.dmKey,
      createdById: row.createdById,
      createdAt: row.createdAt,
      lastSeq: row.lastSeq,
      lastMessageId: row.lastMessageId,
      memberCount: row.memberCount,
    };
    if (row.mUserId !== null) {
      const membership: ChannelMember = {
        channelId,
        userId: row.mUserId,
        joinedAt: row.mJoinedAt!,
        lastReadSeq: row.mLastReadSeq!,
        lastReadMessageId: row.mLastReadMessageId,
        mentionCount: row.mMentionCount!,
        notificationLevel: row.mNotificationLevel!,
        muted: row.mMuted!,
        pushLevel: row.mPushLevel,
      };
      return { channel, membership };
    }
    if (channel.kind === 'PUBLIC' && row.inWorkspace) return { channel, membership: null };
    throw notFound('channel', channelId);
  }

  /** Like accessChannel, and the viewer must be a member (to post, react, mark read). */
  async function accessMembership(viewer: Viewer, channelId: bigint, db: Tx | typeof prisma = prisma) {
    const access = await accessChannel(viewer, channelId, db);
    if (!access.membership) throw forbidden('channel/not_member', 'Join the channel first');
    return { channel: access.channel, membership: access.membership };
  }

  return { accessChannel, accessMembership };
}

export type ChannelAccessChecks = ReturnType<typeof createChannelAccess>;
