/** Channels: the one write that adds members (joins, invitations, direct messages, #general on joining a workspace). */
import type { Tx } from '../../infra/db/database.js';
import type { Channel } from '../../generated/prisma/client.js';

/**
 * Adds members inside a transaction; returns the ids actually added. Each join of a channel (not
 * of a direct message) also writes a `member.joined` outbox row in that transaction (outgoing
 * MEMBER_JOINED events).
 */
export async function addMembers(tx: Tx, channel: Channel, userIds: bigint[]): Promise<bigint[]> {
  const added: bigint[] = [];
  for (const userId of userIds) {
    const n = await tx.$executeRaw`
      INSERT INTO channel_members (channel_id, user_id, last_read_seq, last_read_message_id)
      VALUES (${channel.id}, ${userId}, ${channel.lastSeq}, ${channel.lastMessageId})
      ON CONFLICT DO NOTHING`;
    if (n) added.push(userId);
  }
  if (added.length && channel.kind !== 'DIRECT') {
    await tx.outboxEvent.createMany({
      data: added.map((userId) => ({
        kind: 'member.joined',
        aggregateId: channel.id,
        payload: { channelId: channel.id.toString(), userId: userId.toString() },
      })),
    });
  }
  if (added.length) {
    await tx.channel.update({ where: { id: channel.id }, data: { memberCount: { increment: added.length } } });
  }
  return added;
}
