import type { ServiceDeps } from '../deps.js';
import { badInput, isDomainError, notFound } from '../errors.js';
import type { Tx } from '../../infra/db/database.js';
import { Prisma, type Message } from '../../generated/prisma/client.js';
import type { Viewer } from '../viewer.js';
import { charLength } from '../validate.js';
import type { ChannelsService } from '../channels/channels.service.js';
import type { ChatEvent } from '../events/events.js';

/** Column list for raw reads that must hit the partial indexes; aliases match the Prisma model. */
export const COLUMNS = Prisma.raw(`id, channel_id AS "channelId", author_id AS "authorId", text, seq,
  thread_root_id AS "threadRootId", also_sent_to_channel AS "alsoSentToChannel", listed,
  reply_count AS "replyCount", last_reply_at AS "lastReplyAt", client_nonce AS "clientNonce",
  created_at AS "createdAt", edited_at AS "editedAt", deleted_at AS "deletedAt"`);

export const str = (v: bigint | null | undefined) => (v === null || v === undefined ? null : v.toString());

/** What the message modules share: the access check, text validation, mention resolution and writes. */
export function createMessageCommon(deps: ServiceDeps, channels: ChannelsService) {
  const { prisma, events, limits } = deps;

  return {
    /** Hands events to the publisher; call only after the transaction that caused them committed. */
    publishAll: (list: ChatEvent[]) => {
      for (const e of list) events.publish(e);
    },

    /** Validates message text; writes nothing. */
    checkText: (text: string, allowEmpty: boolean): string => {
      if (typeof text !== 'string') throw badInput('message/bad_text', 'text must be a string', { field: 'text' });
      if (!allowEmpty && text.trim().length === 0)
        throw badInput('message/empty', 'text must not be empty', { field: 'text' });
      const len = charLength(text);
      if (len > limits.maxMessageLength) {
        throw badInput('message/too_long', `text must be at most ${limits.maxMessageLength} characters (got ${len})`, {
          field: 'text',
          max: limits.maxMessageLength,
        });
      }
      return text;
    },

    /** Loads a message the viewer may read (via its channel). Deleted, unlisted messages are gone. */
    accessMessage: async (viewer: Viewer, messageId: bigint) => {
      const message = await prisma.message.findUnique({ where: { id: messageId } });
      if (!message || (message.deletedAt && !message.listed)) throw notFound('message', messageId);
      try {
        const access = await channels.accessChannel(viewer, message.channelId);
        return { message, ...access };
      } catch (err) {
        // A hidden channel hides its messages; any other failure is reported as it is.
        if (isDomainError(err) && err.code === 'NOT_FOUND') throw notFound('message', messageId);
        throw err;
      }
    },

    /** Users mentioned in the text who are members of the workspace (unknown ids stay plain text). */
    resolveMentionedUsers: async (workspaceId: bigint, userIds: bigint[]): Promise<bigint[]> => {
      if (userIds.length === 0) return [];
      const rows = await prisma.workspaceMember.findMany({
        where: { workspaceId, userId: { in: userIds.slice(0, 100) } },
        select: { userId: true },
      });
      return rows.map((r) => r.userId);
    },

    /** Stores a message's mentions; an @here row keeps the members it counted for. */
    writeMentions: async (
      tx: Tx,
      messageId: bigint,
      m: { userIds: bigint[]; here: boolean; channel: boolean; hereOnline: bigint[] },
    ) => {
      const data = [
        ...m.userIds.map((userId) => ({ messageId, kind: 'USER' as const, userId })),
        ...(m.here ? [{ messageId, kind: 'HERE' as const, userId: null, recipients: m.hereOnline }] : []),
        ...(m.channel ? [{ messageId, kind: 'CHANNEL' as const, userId: null }] : []),
      ];
      if (data.length) await tx.messageMention.createMany({ data });
    },
  };
}

export type MessageCommon = ReturnType<typeof createMessageCommon>;
export type { Message };
