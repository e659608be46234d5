import type { ServiceDeps } from '../deps.js';
import { withTx } from '../../infra/db/tx.js';
import { badInput, forbidden, notFound } from '../errors.js';
import type { Message } from '../../generated/prisma/client.js';
import { requireScope, type Viewer } from '../viewer.js';
import { normalizeEmoji } from '../messages/emoji.js';
import { str, type MessageCommon } from '../messages/message-common.js';
import type { WireReaction } from '../events/events.js';
import { toWire } from '../events/wire.js';

const MAX_REACTION_KINDS = 50;

/** Reactions: one per user and emoji on a message; members of its channel only; events after the write. */
export function createReactionsService(deps: ServiceDeps, common: MessageCommon) {
  const { prisma } = deps;

  async function react(viewer: Viewer, messageId: bigint, emojiInput: string, add: boolean): Promise<Message> {
    requireScope(viewer, 'REACTIONS_WRITE');
    const emoji = normalizeEmoji(emojiInput);
    if (!emoji)
      throw badInput('reaction/bad_emoji', 'emoji must be a shortcode like thumbsup or one emoji character', {
        field: 'emoji',
      });
    const { message, membership, channel } = await common.accessMessage(viewer, messageId);
    if (message.deletedAt) throw notFound('message', messageId);
    if (!membership) throw forbidden('channel/not_member', 'Join the channel first');
    let changed: number;
    if (add) {
      const kinds = await prisma.reaction.groupBy({ by: ['emoji'], where: { messageId } });
      if (kinds.length >= MAX_REACTION_KINDS && !kinds.some((k) => k.emoji === emoji)) {
        throw badInput('reaction/too_many', `a message holds at most ${MAX_REACTION_KINDS} different reactions`, {
          field: 'emoji',
        });
      }
      // The reaction and its outbox row (outgoing REACTION_ADDED events) commit together.
      changed = await withTx(prisma, async (tx) => {
        const n = await tx.$executeRaw`
          INSERT INTO reactions (message_id, user_id, emoji) VALUES (${messageId}, ${viewer.userId}, ${emoji}) ON CONFLICT DO NOTHING`;
        if (n) {
          const payload = {
            messageId: messageId.toString(),
            channelId: channel.id.toString(),
            userId: viewer.userId.toString(),
            emoji,
          };
          await tx.outboxEvent.create({ data: { kind: 'reaction.added', aggregateId: messageId, payload } });
        }
        return n;
      });
    } else {
      changed = (await prisma.reaction.deleteMany({ where: { messageId, userId: viewer.userId, emoji } })).count;
    }
    if (changed) {
      // The reactions after the change travel with the event (one read here instead of one per viewer).
      const rows = await prisma.reaction.findMany({
        where: { messageId },
        orderBy: { createdAt: 'asc' },
        select: { emoji: true, userId: true },
      });
      const byEmoji = new Map<string, WireReaction>();
      for (const r of rows) {
        let w = byEmoji.get(r.emoji);
        if (!w) byEmoji.set(r.emoji, (w = { emoji: r.emoji, count: 0, userIds: [] }));
        w.count += 1;
        w.userIds.push(r.userId.toString());
      }
      common.publishAll([
        {
          type: 'ReactionChanged',
          message: toWire(message),
          reactions: [...byEmoji.values()],
          channelId: channel.id.toString(),
          messageId: messageId.toString(),
          threadRootId: str(message.threadRootId),
          emoji,
          userId: viewer.userId.toString(),
          added: add,
        },
      ]);
    }
    return message;
  }

  return {
    add: (viewer: Viewer, messageId: bigint, emoji: string) => react(viewer, messageId, emoji, true),
    remove: (viewer: Viewer, messageId: bigint, emoji: string) => react(viewer, messageId, emoji, false),
  };
}

export type ReactionsService = ReturnType<typeof createReactionsService>;
