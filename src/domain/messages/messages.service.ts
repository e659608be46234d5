import type { ServiceDeps } from '../deps.js';
import { badInput, conflict, forbidden, isDomainError, notFound } from '../errors.js';
import { withTx, isUniqueViolation } from '../../infra/db/tx.js';
import type { Tx } from '../../infra/db/database.js';
import { Prisma, type Message } from '../../generated/prisma/client.js';
import { requireScope, type Viewer } from '../viewer.js';
import { charLength, pageSize } from '../validate.js';
import type { ChannelsService } from '../channels/channels.service.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import { parseMentions } from './mentions.js';
import { normalizeEmoji } from './emoji.js';
import type { ChatEvent } from '../events/events.js';
import { toWire } from '../events/wire.js';

export type { Message };

/** Column list for raw reads that must hit the partial indexes; aliases match the Prisma model. */
const COLUMNS = Prisma.raw(`id, channel_id AS "channelId", author_id AS "authorId", text, seq,
  thread_root_id AS "threadRootId", also_sent_to_channel AS "alsoSentToChannel", listed,
  reply_count AS "replyCount", last_reply_at AS "lastReplyAt", client_nonce AS "clientNonce",
  created_at AS "createdAt", edited_at AS "editedAt", deleted_at AS "deletedAt"`);

const MAX_NONCE = 128;
const MAX_FILES = 10;
const MAX_REACTION_KINDS = 50;

export interface SendMessageInput {
  channelId: bigint;
  text: string;
  threadRootId?: bigint | null;
  alsoSendToChannel?: boolean | null;
  fileIds?: bigint[] | null;
  clientNonce?: string | null;
}

export interface Page<T> {
  nodes: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

const str = (v: bigint | null | undefined) => (v === null || v === undefined ? null : v.toString());

export function createMessagesService(deps: ServiceDeps, channels: ChannelsService, workspaces: WorkspacesService) {
  const { prisma, ids, events, limits } = deps;

  function publishAll(list: ChatEvent[]) {
    for (const e of list) events.publish(e);
  }

  /** Validates message text; writes nothing. */
  function checkText(text: string, allowEmpty: boolean): string {
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
  }

  /** Loads a message the viewer may read (via its channel). Deleted, unlisted messages are gone. */
  async function accessMessage(viewer: Viewer, messageId: bigint) {
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
  }

  /** Users mentioned in the text who are members of the workspace (unknown ids stay plain text). */
  async function resolveMentionedUsers(workspaceId: bigint, userIds: bigint[]): Promise<bigint[]> {
    if (userIds.length === 0) return [];
    const rows = await prisma.workspaceMember.findMany({
      where: { workspaceId, userId: { in: userIds.slice(0, 100) } },
      select: { userId: true },
    });
    return rows.map((r) => r.userId);
  }

  async function writeMentions(tx: Tx, messageId: bigint, userIds: bigint[], here: boolean, channel: boolean) {
    const data = [
      ...userIds.map((userId) => ({ messageId, kind: 'USER' as const, userId })),
      ...(here ? [{ messageId, kind: 'HERE' as const, userId: null }] : []),
      ...(channel ? [{ messageId, kind: 'CHANNEL' as const, userId: null }] : []),
    ];
    if (data.length) await tx.messageMention.createMany({ data });
  }

  /**
   * Thread bookkeeping for a reply, inside the send transaction: the replier, the root's author and
   * mentioned channel members follow the thread; every other follower gets one more unread reply
   * and the replier has read it all. Returns who started following (the badge sessions need it).
   */
  async function followOnReply(
    tx: Tx,
    root: Message,
    channelId: bigint,
    authorId: bigint,
    mentioned: bigint[],
  ): Promise<bigint[]> {
    const mentionedMembers = mentioned.length
      ? (
          await tx.channelMember.findMany({ where: { channelId, userId: { in: mentioned } }, select: { userId: true } })
        ).map((m) => m.userId)
      : [];
    const candidates = [...new Set([authorId, root.authorId, ...mentionedMembers])];
    const added = await tx.$queryRaw<{ user_id: bigint }[]>`
      INSERT INTO thread_followers (root_id, user_id, channel_id, unread_count)
      SELECT ${root.id}, u, ${channelId}, CASE WHEN u = ${authorId} THEN 0 ELSE 1 END FROM unnest(${candidates}::bigint[]) AS u
      ON CONFLICT DO NOTHING RETURNING user_id`;
    const addedIds = added.map((r) => r.user_id);
    await tx.$executeRaw`
      UPDATE thread_followers SET unread_count = CASE WHEN user_id = ${authorId} THEN 0 ELSE unread_count + 1 END
      WHERE root_id = ${root.id} AND NOT (user_id = ANY(${addedIds}::bigint[]))`;
    return addedIds;
  }

  /**
   * The hot path: a top-level message without files, written by ONE statement (atomic on its own,
   * no interactive transaction): the channel's sequence, the message, its mentions, the author's
   * read position, mention counts and the outbox row. The channel row is locked for this statement
   * only. Same rules as the general path below (and as the badge sessions in src/realtime/badges.ts).
   */
  async function sendTopLevel(a: {
    id: bigint;
    channelId: bigint;
    authorId: bigint;
    text: string;
    nonce: string | null;
    now: Date;
    mentioned: bigint[];
    parsed: { here: boolean; channel: boolean };
    online: bigint[];
  }): Promise<Message> {
    const kinds = [
      ...a.mentioned.map(() => 'USER'),
      ...(a.parsed.here ? ['HERE'] : []),
      ...(a.parsed.channel ? ['CHANNEL'] : []),
    ];
    const mentionUsers = [
      ...a.mentioned.map(String),
      ...(a.parsed.here ? [null] : []),
      ...(a.parsed.channel ? [null] : []),
    ];
    const countMentions = a.mentioned.length > 0 || a.parsed.channel || (a.parsed.here && a.online.length > 0);
    const payload = JSON.stringify({ messageId: a.id.toString(), channelId: a.channelId.toString() });
    const [row] = await prisma.$queryRaw<{ seq: bigint }[]>`
      WITH ch AS (
        UPDATE channels SET last_seq = last_seq + 1, last_message_id = GREATEST(COALESCE(last_message_id, 0), ${a.id})
        WHERE id = ${a.channelId} RETURNING last_seq
      ), m AS (
        INSERT INTO messages (id, channel_id, author_id, text, seq, listed, client_nonce, created_at)
        SELECT ${a.id}, ${a.channelId}, ${a.authorId}, ${a.text}, ch.last_seq, true, ${a.nonce}, ${a.now} FROM ch
        RETURNING id
      ), men AS (
        INSERT INTO message_mentions (message_id, kind, user_id)
        SELECT m.id, k::"MentionKind", u::bigint FROM m, unnest(${kinds}::text[], ${mentionUsers}::text[]) AS x(k, u)
      ), me AS (
        UPDATE channel_members SET last_read_seq = GREATEST(last_read_seq, (SELECT last_seq FROM ch)),
          last_read_message_id = ${a.id}, mention_count = 0
        WHERE channel_id = ${a.channelId} AND user_id = ${a.authorId}
      ), mc AS (
        UPDATE channel_members SET mention_count = mention_count + 1
        WHERE ${countMentions} AND channel_id = ${a.channelId} AND user_id <> ${a.authorId} AND notification_level <> 'NONE'
          AND (user_id = ANY(${a.mentioned}::bigint[])
            OR (NOT muted AND (${a.parsed.channel} OR user_id = ANY(${a.online}::bigint[]))))
      ), ob AS (
        INSERT INTO outbox (kind, aggregate_id, payload) SELECT 'message.posted', m.id, ${payload}::jsonb FROM m
      )
      SELECT last_seq AS seq FROM ch`;
    if (!row) throw notFound('channel', a.channelId);
    return {
      id: a.id,
      channelId: a.channelId,
      authorId: a.authorId,
      text: a.text,
      seq: row.seq,
      threadRootId: null,
      alsoSentToChannel: false,
      listed: true,
      replyCount: 0,
      lastReplyAt: null,
      clientNonce: a.nonce,
      createdAt: a.now,
      editedAt: null,
      deletedAt: null,
    };
  }

  async function send(viewer: Viewer, input: SendMessageInput): Promise<Message> {
    requireScope(viewer, 'CHAT_WRITE');
    const fileIds = [...new Set(input.fileIds ?? [])];
    const text = checkText(input.text, fileIds.length > 0);
    const nonce = input.clientNonce ?? null;
    if (nonce !== null && (nonce.length === 0 || nonce.length > MAX_NONCE)) {
      throw badInput('message/bad_nonce', `clientNonce must be 1 to ${MAX_NONCE} characters`, { field: 'clientNonce' });
    }
    if (fileIds.length > MAX_FILES)
      throw badInput('message/too_many_files', `at most ${MAX_FILES} files per message`, { field: 'fileIds' });

    // A retried send with the same nonce returns the first message, whatever else changed.
    if (nonce !== null) {
      const prior = await prisma.message.findUnique({
        where: { authorId_clientNonce: { authorId: viewer.userId, clientNonce: nonce } },
      });
      if (prior) return sameNonce(prior, input.channelId);
    }

    const { channel } = await channels.accessMembership(viewer, input.channelId);
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
        where: { id: { in: fileIds }, uploaderId: viewer.userId, status: 'READY' },
      });
      if (files.length !== fileIds.length) throw notFound('file');
    }

    const parsed = parseMentions(text);
    const mentioned = await resolveMentionedUsers(channel.workspaceId, parsed.userIds);
    const online = parsed.here
      ? await deps.onlineAmong(
          (await prisma.channelMember.findMany({ where: { channelId: channel.id }, select: { userId: true } })).map(
            (m) => m.userId,
          ),
        )
      : [];
    const listed = !root || Boolean(input.alsoSendToChannel);
    const id = ids.next();
    const now = new Date();

    let message: Message;
    let newFollowers: bigint[] = [];
    try {
      message =
        !root && !fileIds.length
          ? await sendTopLevel({
              id,
              channelId: channel.id,
              authorId: viewer.userId,
              text,
              nonce,
              now,
              mentioned,
              parsed,
              online,
            })
          : await withTx(prisma, async (tx) => {
              const m = await tx.message.create({
                data: {
                  id,
                  channelId: channel.id,
                  authorId: viewer.userId,
                  text,
                  seq: null, // set below, last, so the channel row stays locked as briefly as possible
                  threadRootId: root?.id ?? null,
                  alsoSentToChannel: Boolean(root && input.alsoSendToChannel),
                  listed,
                  clientNonce: nonce,
                  createdAt: now,
                },
              });
              await writeMentions(tx, id, mentioned, parsed.here, parsed.channel);
              if (fileIds.length)
                await tx.messageFile.createMany({ data: fileIds.map((fileId) => ({ messageId: id, fileId })) });
              if (root) {
                await tx.message.update({
                  where: { id: root.id },
                  data: { replyCount: { increment: 1 }, lastReplyAt: now },
                });
                newFollowers = await followOnReply(tx, root, channel.id, viewer.userId, mentioned);
              }
              await tx.outboxEvent.create({
                data: {
                  kind: 'message.posted',
                  aggregateId: id,
                  payload: { messageId: id.toString(), channelId: channel.id.toString() },
                },
              });
              if (!listed) return m;
              // Locks the channel row until commit: sends to one channel are serialized here, so the
              // sequence is gap-free. Everything that does not need the sequence is done above.
              const [row] = await tx.$queryRaw<{ last_seq: bigint }[]>`
          UPDATE channels SET last_seq = last_seq + 1,
            last_message_id = GREATEST(COALESCE(last_message_id, 0), ${id})
          WHERE id = ${channel.id} RETURNING last_seq`;
              const seq = row!.last_seq;
              await tx.$executeRaw`UPDATE messages SET seq = ${seq} WHERE id = ${id}`;
              // The author has read their own message.
              await tx.$executeRaw`
          UPDATE channel_members SET last_read_seq = GREATEST(last_read_seq, ${seq}), last_read_message_id = ${id}, mention_count = 0
          WHERE channel_id = ${channel.id} AND user_id = ${viewer.userId}`;
              if (mentioned.length || parsed.channel || (parsed.here && online.length)) {
                // The rule the badge sessions mirror in memory (src/realtime/badges.ts): direct mentions
                // count unless the level is NONE; @channel and @here also need the channel unmuted.
                await tx.$executeRaw`
            UPDATE channel_members SET mention_count = mention_count + 1
            WHERE channel_id = ${channel.id} AND user_id <> ${viewer.userId} AND notification_level <> 'NONE'
              AND (user_id = ANY(${mentioned}::bigint[])
                OR (NOT muted AND (${parsed.channel} OR user_id = ANY(${online}::bigint[]))))`;
              }
              return { ...m, seq };
            });
    } catch (err) {
      if (nonce !== null && isUniqueViolation(err)) {
        // A concurrent retry with the same nonce committed first.
        const prior = await prisma.message.findUnique({
          where: { authorId_clientNonce: { authorId: viewer.userId, clientNonce: nonce } },
        });
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
        mentionedUserIds: mentioned.map(String),
        mentionsChannel: parsed.channel,
        mentionsHere: parsed.here,
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
    publishAll(posted);
    return message;
  }

  function sameNonce(prior: Message, channelId: bigint): Message {
    if (prior.channelId !== channelId)
      throw conflict('message/nonce_reused', 'clientNonce was already used for another channel');
    return prior;
  }

  async function edit(viewer: Viewer, messageId: bigint, textInput: string): Promise<Message> {
    requireScope(viewer, 'CHAT_WRITE');
    const { message, channel } = await accessMessage(viewer, messageId);
    if (message.deletedAt) throw notFound('message', messageId);
    if (message.authorId !== viewer.userId) throw forbidden('message/not_author', 'Only the author can edit a message');
    const text = checkText(textInput, false);
    const parsed = parseMentions(text);
    const mentioned = await resolveMentionedUsers(channel.workspaceId, parsed.userIds);
    const updated = await withTx(prisma, async (tx) => {
      const m = await tx.message.update({ where: { id: messageId }, data: { text, editedAt: new Date() } });
      await tx.messageMention.deleteMany({ where: { messageId } });
      await writeMentions(tx, messageId, mentioned, parsed.here, parsed.channel);
      await tx.outboxEvent.create({
        data: {
          kind: 'message.edited',
          aggregateId: messageId,
          payload: { messageId: messageId.toString(), channelId: channel.id.toString() },
        },
      });
      return m;
    });
    publishAll([
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
   * Deletes a message: the author, or a workspace owner/admin. The text, mentions, reactions and
   * file links are purged. A thread root that has replies stays listed, shown as deleted.
   */
  async function remove(viewer: Viewer, messageId: bigint): Promise<boolean> {
    requireScope(viewer, 'CHAT_WRITE');
    const { message, channel } = await accessMessage(viewer, messageId);
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
    publishAll([
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

  async function react(viewer: Viewer, messageId: bigint, emojiInput: string, add: boolean): Promise<Message> {
    requireScope(viewer, 'REACTIONS_WRITE');
    const emoji = normalizeEmoji(emojiInput);
    if (!emoji)
      throw badInput('reaction/bad_emoji', 'emoji must be a shortcode like thumbsup or one emoji character', {
        field: 'emoji',
      });
    const { message, membership, channel } = await accessMessage(viewer, messageId);
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
      changed = await prisma.$executeRaw`
        INSERT INTO reactions (message_id, user_id, emoji) VALUES (${messageId}, ${viewer.userId}, ${emoji}) ON CONFLICT DO NOTHING`;
    } else {
      changed = (await prisma.reaction.deleteMany({ where: { messageId, userId: viewer.userId, emoji } })).count;
    }
    if (changed) {
      publishAll([
        {
          type: 'ReactionChanged',
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

  /**
   * Channel history, newest first. `before` pages into the past; `after` returns the `first`
   * messages right after that id (for catching up). Reads only the partial index of listed rows.
   */
  /**
   * Identical history reads in flight share one query (a popular channel's newest page is read by
   * everyone opening it at once). Only reads that already passed their own access check get here.
   */
  const inFlight = new Map<string, Promise<Message[]>>();
  function coalesced(key: string, read: () => Promise<Message[]>): Promise<Message[]> {
    let p = inFlight.get(key);
    if (!p) {
      p = read().finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  }

  async function history(
    viewer: Viewer,
    channelId: bigint,
    opts: { before?: bigint | null; after?: bigint | null; first?: number | null },
  ): Promise<Page<Message>> {
    await channels.accessChannel(viewer, channelId);
    const take = pageSize(opts.first, limits.maxPageSize);
    const before = opts.before ?? null;
    const after = opts.after ?? null;
    const key = `${channelId}:${before}:${after}:${take}`;
    if (after !== null && before === null) {
      const rows = await coalesced(
        key,
        () => prisma.$queryRaw<Message[]>`
        SELECT ${COLUMNS} FROM messages
        WHERE channel_id = ${channelId} AND listed AND id > ${after}
        ORDER BY id ASC LIMIT ${take + 1}`,
      );
      const page = rows.slice(0, take).reverse();
      return { nodes: page, hasPreviousPage: rows.length > take, hasNextPage: true };
    }
    const rows = await coalesced(
      key,
      () => prisma.$queryRaw<Message[]>`
      SELECT ${COLUMNS} FROM messages
      WHERE channel_id = ${channelId} AND listed
        AND id < ${before ?? 9223372036854775807n} AND id > ${after ?? 0n}
      ORDER BY id DESC LIMIT ${take + 1}`,
    );
    return { nodes: rows.slice(0, take), hasNextPage: rows.length > take, hasPreviousPage: before !== null };
  }

  /** Replies of a thread, oldest first; `after` pages forward. */
  async function thread(
    viewer: Viewer,
    rootId: bigint,
    opts: { after?: bigint | null; first?: number | null },
  ): Promise<Page<Message> & { root: Message }> {
    const { message: root } = await accessMessage(viewer, rootId);
    if (root.threadRootId)
      throw badInput('message/not_root', 'rootId is a reply, not a thread root', { field: 'rootId' });
    const take = pageSize(opts.first, limits.maxPageSize);
    const rows = await prisma.$queryRaw<Message[]>`
      SELECT ${COLUMNS} FROM messages
      WHERE thread_root_id = ${rootId} AND deleted_at IS NULL AND id > ${opts.after ?? 0n}
      ORDER BY id ASC LIMIT ${take + 1}`;
    return { root, nodes: rows.slice(0, take), hasNextPage: rows.length > take, hasPreviousPage: opts.after != null };
  }

  /**
   * Moves the viewer's read position in a channel to a listed message (forward, or back to
   * "mark unread"). unreadCount = channel.lastSeq - lastReadSeq; the mention count is recounted
   * from the stored mentions after the new position.
   */
  async function markRead(viewer: Viewer, channelId: bigint, messageId: bigint) {
    const { channel } = await channels.accessMembership(viewer, channelId);
    const message = await prisma.message.findUnique({ where: { id: messageId } });
    if (!message || message.channelId !== channelId || message.seq === null) throw notFound('message', messageId);
    const seq = message.seq;
    const mentionCount = await withTx(prisma, async (tx) => {
      const fresh = await tx.channel.findUniqueOrThrow({ where: { id: channelId } });
      const [row] =
        seq >= fresh.lastSeq
          ? [{ n: 0n }]
          : await tx.$queryRaw<{ n: bigint }[]>`
            SELECT count(DISTINCT m.id) AS n FROM messages m JOIN message_mentions mm ON mm.message_id = m.id
            WHERE m.channel_id = ${channelId} AND m.listed AND m.deleted_at IS NULL AND m.seq > ${seq}
              AND m.author_id <> ${viewer.userId} AND (mm.user_id = ${viewer.userId} OR mm.kind = 'CHANNEL')`;
      await tx.channelMember.update({
        where: { channelId_userId: { channelId, userId: viewer.userId } },
        data: { lastReadSeq: seq, lastReadMessageId: messageId, mentionCount: Number(row!.n) },
      });
      return Number(row!.n);
    });
    publishAll([
      {
        type: 'ChannelRead',
        channelId: channelId.toString(),
        userId: viewer.userId.toString(),
        lastReadMessageId: messageId.toString(),
        lastReadSeq: seq.toString(),
        mentionCount,
      },
    ]);
    return channel;
  }

  return {
    accessMessage,
    send,
    edit,
    remove,
    addReaction: (viewer: Viewer, messageId: bigint, emoji: string) => react(viewer, messageId, emoji, true),
    removeReaction: (viewer: Viewer, messageId: bigint, emoji: string) => react(viewer, messageId, emoji, false),
    history,
    thread,
    markRead,
  };
}

export type MessagesService = ReturnType<typeof createMessagesService>;
