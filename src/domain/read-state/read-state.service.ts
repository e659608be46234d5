import type { ServiceDeps } from '../deps.js';
import { notFound } from '../errors.js';
import { withTx } from '../../infra/db/tx.js';
import type { Viewer } from '../viewer.js';
import type { ChannelsService } from '../channels/channels.service.js';
import { recountSql } from '../messages/mention-rule.js';

/** A member's read position in a channel, and the mention count that goes with it. */
export function createReadStateService(deps: ServiceDeps, channels: ChannelsService) {
  const { prisma, events } = deps;

  /**
   * Moves the viewer's read position in a channel to a listed message (forward, or back to
   * "mark unread"). unreadCount = channel.lastSeq - lastReadSeq; the mention count is recounted
   * from the stored mentions after the new position, by the same rule the send applied
   * (mention-rule.ts), with the member's current level and mute.
   */
  async function markRead(viewer: Viewer, channelId: bigint, messageId: bigint) {
    const { channel, membership } = await channels.accessMembership(viewer, channelId);
    const message = await prisma.message.findUnique({ where: { id: messageId } });
    if (!message || message.channelId !== channelId || message.seq === null) throw notFound('message', messageId);
    const seq = message.seq;
    const rule = recountSql({ userId: viewer.userId, level: membership.notificationLevel, muted: membership.muted });
    const mentionCount = await withTx(prisma, async (tx) => {
      const fresh = await tx.channel.findUniqueOrThrow({ where: { id: channelId } });
      const [row] =
        seq >= fresh.lastSeq
          ? [{ n: 0n }]
          : await tx.$queryRaw<{ n: bigint }[]>`
            SELECT count(DISTINCT m.id) AS n FROM messages m JOIN message_mentions mm ON mm.message_id = m.id
            WHERE m.channel_id = ${channelId} AND m.listed AND m.deleted_at IS NULL AND m.seq > ${seq}
              AND m.author_id <> ${viewer.userId} AND ${rule}`;
      await tx.channelMember.update({
        where: { channelId_userId: { channelId, userId: viewer.userId } },
        data: { lastReadSeq: seq, lastReadMessageId: messageId, mentionCount: Number(row!.n) },
      });
      return Number(row!.n);
    });
    events.publish({
      type: 'ChannelRead',
      channelId: channelId.toString(),
      userId: viewer.userId.toString(),
      lastReadMessageId: messageId.toString(),
      lastReadSeq: seq.toString(),
      mentionCount,
    });
    return channel;
  }

  return { markRead };
}

export type ReadStateService = ReturnType<typeof createReadStateService>;
