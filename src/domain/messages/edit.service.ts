import type { ServiceDeps } from '../deps.js';
import { forbidden, notFound } from '../errors.js';
import { withTx } from '../../infra/db/tx.js';
import type { Message } from '../../generated/prisma/client.js';
import { requireScope, type Viewer } from '../viewer.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import { parseMentions } from './mentions.js';
import type { ChatEvent } from '../events/events.js';
import { str, type MessageCommon } from './message-common.js';

/** Editing and deleting messages (author, or an owner/admin for deletes); events after commit. */
export function createEditService(deps: ServiceDeps, workspaces: WorkspacesService, common: MessageCommon) {
  const { prisma } = deps;

  async function edit(viewer: Viewer, messageId: bigint, textInput: string): Promise<Message> {
    requireScope(viewer, 'CHAT_WRITE');
    const { message, channel } = await common.accessMessage(viewer, messageId);
    if (message.deletedAt) throw notFound('message', messageId);
    if (message.authorId !== viewer.userId) throw forbidden('message/not_author', 'Only the author can edit a message');
    const text = common.checkText(textInput, false);
    const parsed = parseMentions(text);
    const mentioned = await common.resolveMentionedUsers(channel.workspaceId, parsed.userIds);
    const updated = await withTx(prisma, async (tx) => {
      const m = await tx.message.update({ where: { id: messageId }, data: { text, editedAt: new Date() } });
      // An edit notifies no one: an @here kept through the edit keeps the members it counted for.
      const priorHere = await tx.messageMention.findFirst({ where: { messageId, kind: 'HERE' } });
      await tx.messageMention.deleteMany({ where: { messageId } });
      await common.writeMentions(tx, messageId, {
        userIds: mentioned,
        here: parsed.here,
        channel: parsed.channel,
        hereOnline: priorHere?.recipients ?? [],
      });
      await tx.outboxEvent.create({
        data: {
          kind: 'message.edited',
          aggregateId: messageId,
          payload: { messageId: messageId.toString(), channelId: channel.id.toString() },
        },
      });
      return m;
    });
    common.publishAll([
      {
        type: 'MessageEdited',
        channelId: channel.id.toString(),
        messageId: messageId.toString(),
        threadRootId: str(message.threadRootId),
      },
    ]);
    return updated;
  }

  /**
   * Deletes a message: the author, or a workspace owner/admin. The text, mentions, reactions,
   * unfurls and file links are purged. A thread root that has replies stays listed, shown as deleted.
   */
  async function remove(viewer: Viewer, messageId: bigint): Promise<boolean> {
    requireScope(viewer, 'CHAT_WRITE');
    const { message, channel } = await common.accessMessage(viewer, messageId);
    if (message.deletedAt) throw notFound('message', messageId);
    if (message.authorId !== viewer.userId) {
      const role = await workspaces.roleOf(viewer.userId, channel.workspaceId);
      if (role !== 'OWNER' && role !== 'ADMIN')
        throw forbidden('message/not_author', 'Only the author or an admin can delete a message');
    }
    const extra: ChatEvent[] = [];
    await withTx(prisma, async (tx) => {
      const m = await tx.message.findUniqueOrThrow({ where: { id: messageId } });
      if (m.deletedAt) throw notFound('message', messageId);
      const keepListed = !m.threadRootId && m.replyCount > 0;
      await tx.message.update({
        where: { id: messageId },
        data: { text: '', deletedAt: new Date(), listed: keepListed },
      });
      await tx.messageMention.deleteMany({ where: { messageId } });
      await tx.reaction.deleteMany({ where: { messageId } });
      await tx.messageUnfurl.deleteMany({ where: { messageId } });
      // Its files go too (the sweep removes their bytes after FILE_RETENTION_HOURS), unless
      // another live message still carries them.
      await tx.$executeRaw`
        UPDATE files SET deleted_at = now() WHERE deleted_at IS NULL AND id IN (
          SELECT mf.file_id FROM message_files mf WHERE mf.message_id = ${messageId}
            AND NOT EXISTS (SELECT 1 FROM message_files o JOIN messages om ON om.id = o.message_id
                            WHERE o.file_id = mf.file_id AND o.message_id <> ${messageId} AND om.deleted_at IS NULL))`;
      await tx.messageFile.deleteMany({ where: { messageId } });
      if (m.threadRootId) {
        const root = await tx.message.update({
          where: { id: m.threadRootId },
          data: { replyCount: { decrement: 1 } },
        });
        // A deleted root is listed only while it has replies.
        if (root.deletedAt && root.replyCount <= 0) {
          await tx.message.update({ where: { id: root.id }, data: { listed: false } });
          extra.push({
            type: 'MessageDeleted',
            channelId: channel.id.toString(),
            messageId: root.id.toString(),
            threadRootId: null,
          });
        }
        extra.push({
          type: 'ThreadUpdated',
          channelId: channel.id.toString(),
          rootId: root.id.toString(),
          replyCount: Math.max(0, root.replyCount),
          lastReplyAt: root.lastReplyAt?.toISOString() ?? null,
        });
      }
      if (m.listed && !keepListed && channel.lastMessageId === messageId) {
        await tx.$executeRaw`
          UPDATE channels SET last_message_id = (
            SELECT max(id) FROM messages WHERE channel_id = ${channel.id} AND listed AND deleted_at IS NULL)
          WHERE id = ${channel.id}`;
      }
      await tx.outboxEvent.create({
        data: {
          kind: 'message.deleted',
          aggregateId: messageId,
          payload: { messageId: messageId.toString(), channelId: channel.id.toString() },
        },
      });
    });
    common.publishAll([
      {
        type: 'MessageDeleted',
        channelId: channel.id.toString(),
        messageId: messageId.toString(),
        threadRootId: str(message.threadRootId),
      },
      ...extra,
    ]);
    return true;
  }

  return { edit, remove };
}
