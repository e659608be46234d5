import type { ServiceDeps } from '../deps.js';
import { badInput, conflict, notFound } from '../errors.js';
import { isUniqueViolation } from '../../infra/db/tx.js';
import type { Message } from '../../generated/prisma/client.js';
import { requireScope, type Viewer } from '../viewer.js';
import type { ChannelsService } from '../channels/channels.service.js';
import { parseMentions } from './mentions.js';
import type { ChatEvent } from '../events/events.js';
import { toWire } from '../events/wire.js';
import { str, type MessageCommon } from './message-common.js';
import { createSendWrites, type Mentions } from './send.writes.js';

const MAX_NONCE = 128;
const MAX_FILES = 10;

export interface SendMessageInput {
  channelId: bigint;
  text: string;
  threadRootId?: bigint | null;
  alsoSendToChannel?: boolean | null;
  fileIds?: bigint[] | null;
  clientNonce?: string | null;
}

/** Sending messages and thread replies: validation, one write, events after commit. */
export function createSendService(deps: ServiceDeps, channels: ChannelsService, common: MessageCommon) {
  const { prisma, ids } = deps;

  const { sendTopLevel, sendInTx } = createSendWrites(deps, common);

  function sameNonce(prior: Message, channelId: bigint): Message {
    if (prior.channelId !== channelId)
      throw conflict('message/nonce_reused', 'clientNonce was already used for another channel');
    return prior;
  }

  const priorByNonce = (authorId: bigint, clientNonce: string) =>
    prisma.message.findUnique({ where: { authorId_clientNonce: { authorId, clientNonce } } });

  /**
   * Sends a message or a thread reply. Validates, checks membership, writes once (idempotent on the
   * author's clientNonce), then publishes MessagePosted (and ThreadUpdated for a reply) after commit.
   */
  async function send(viewer: Viewer, input: SendMessageInput): Promise<Message> {
    requireScope(viewer, 'CHAT_WRITE');
    const fileIds = [...new Set(input.fileIds ?? [])];
    const text = common.checkText(input.text, fileIds.length > 0);
    const nonce = input.clientNonce ?? null;
    if (nonce !== null && (nonce.length === 0 || nonce.length > MAX_NONCE)) {
      throw badInput('message/bad_nonce', `clientNonce must be 1 to ${MAX_NONCE} characters`, { field: 'clientNonce' });
    }
    if (fileIds.length > MAX_FILES)
      throw badInput('message/too_many_files', `at most ${MAX_FILES} files per message`, { field: 'fileIds' });

    // A retried send with the same nonce returns the first message, whatever else changed.
    if (nonce !== null) {
      const prior = await priorByNonce(viewer.userId, nonce);
      if (prior) return sameNonce(prior, input.channelId);
    }

    // CHAT_WRITE is enough to post where the bot is a member (no read scope needed).
    const { channel } = await channels.accessMembership(viewer, input.channelId, undefined, 'CHAT_WRITE');
    let root: Message | null = null;
    if (input.threadRootId) {
      root = await prisma.message.findUnique({ where: { id: input.threadRootId } });
      if (!root || root.channelId !== channel.id || root.deletedAt) throw notFound('message', input.threadRootId);
      if (root.threadRootId)
        throw badInput('message/nested_thread', 'replies cannot have replies; reply to the thread root', {
          field: 'threadRootId',
        });
    } else if (input.alsoSendToChannel) {
      throw badInput('message/also_send_without_thread', 'alsoSendToChannel needs threadRootId', {
        field: 'alsoSendToChannel',
      });
    }
    if (fileIds.length) {
      const files = await prisma.file.findMany({
        // Only files the sender uploaded to this channel, checked and READY, and not deleted.
        where: {
          id: { in: fileIds },
          uploaderId: viewer.userId,
          channelId: channel.id,
          status: 'READY',
          deletedAt: null,
        },
      });
      if (files.length !== fileIds.length) throw notFound('file');
    }

    const parsed = parseMentions(text);
    const mentions: Mentions = {
      userIds: await common.resolveMentionedUsers(channel.workspaceId, parsed.userIds),
      here: parsed.here,
      channel: parsed.channel,
      hereOnline: parsed.here
        ? await deps.onlineAmong(
            (await prisma.channelMember.findMany({ where: { channelId: channel.id }, select: { userId: true } })).map(
              (m) => m.userId,
            ),
          )
        : [],
    };
    const listed = !root || Boolean(input.alsoSendToChannel);
    const id = ids.next();
    const now = new Date();
    await deps.testHooks?.beforeSendWrite?.({ id, nonce, channelId: channel.id });

    const base = { id, channelId: channel.id, authorId: viewer.userId, text, nonce, now, mentions };
    let message: Message;
    let newFollowers: bigint[] = [];
    try {
      if (!root && !fileIds.length) message = await sendTopLevel(base);
      else
        ({ message, newFollowers } = await sendInTx({
          ...base,
          root,
          alsoSendToChannel: Boolean(input.alsoSendToChannel),
          fileIds,
        }));
    } catch (err) {
      if (nonce !== null && isUniqueViolation(err)) {
        // A concurrent retry with the same nonce committed first.
        const prior = await priorByNonce(viewer.userId, nonce);
        if (prior) return sameNonce(prior, input.channelId);
      }
      throw err;
    }

    const posted: ChatEvent[] = [
      {
        type: 'MessagePosted',
        channelId: channel.id.toString(),
        messageId: id.toString(),
        authorId: viewer.userId.toString(),
        threadRootId: str(root?.id),
        listed,
        seq: str(message.seq),
        mentionedUserIds: mentions.userIds.map(String),
        mentionsChannel: mentions.channel,
        mentionsHere: mentions.here,
        newFollowerIds: newFollowers.map(String),
        message: toWire(message),
      },
    ];
    if (root) {
      posted.push({
        type: 'ThreadUpdated',
        channelId: channel.id.toString(),
        rootId: root.id.toString(),
        replyCount: root.replyCount + 1,
        lastReplyAt: now.toISOString(),
      });
    }
    common.publishAll(posted);
    return message;
  }

  return { send };
}
