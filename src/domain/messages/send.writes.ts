import type { ServiceDeps } from '../deps.js';
import { notFound } from '../errors.js';
import { withTx } from '../../infra/db/tx.js';
import type { Tx } from '../../infra/db/database.js';
import { Prisma, type Message } from '../../generated/prisma/client.js';
import type { MessageCommon } from './message-common.js';
import { mayCountForAnyone, mentionCountSql } from './mention-rule.js';

/** Mentions of a message being sent, resolved: who, and who was online for @here. */
export interface Mentions {
  userIds: bigint[];
  here: boolean;
  channel: boolean;
  hereOnline: bigint[];
}

/** What a top-level send without files writes. */
export interface TopLevelSend {
  id: bigint;
  channelId: bigint;
  authorId: bigint;
  text: string;
  nonce: string | null;
  now: Date;
  mentions: Mentions;
}

/**
 * The hot path's statement: a top-level message without files, written by ONE statement (atomic on
 * its own, no interactive transaction): the channel's sequence, the message, its mentions, the
 * author's read position, mention counts (the rule in mention-rule.ts) and the outbox row. The
 * channel row is locked for this statement only. Returns one row `{ seq }`, none when the channel
 * does not exist. Exported so bench/send-path.bench.ts runs the very same SQL text and values.
 */
export function sendTopLevelSql(a: TopLevelSend): Prisma.Sql {
  const m = a.mentions;
  const kinds = [...m.userIds.map(() => 'USER'), ...(m.here ? ['HERE'] : []), ...(m.channel ? ['CHANNEL'] : [])];
  const mentionUsers = [...m.userIds.map(String), ...(m.here ? [null] : []), ...(m.channel ? [null] : [])];
  const countRule = mayCountForAnyone(m) ? mentionCountSql({ authorId: a.authorId, ...m }) : null;
  const payload = JSON.stringify({ messageId: a.id.toString(), channelId: a.channelId.toString() });
  return Prisma.sql`
      WITH ch AS (
        UPDATE channels SET last_seq = last_seq + 1, last_message_id = GREATEST(COALESCE(last_message_id, 0), ${a.id})
        WHERE id = ${a.channelId} RETURNING last_seq
      ), m AS (
        INSERT INTO messages (id, channel_id, author_id, text, seq, listed, client_nonce, created_at)
        SELECT ${a.id}, ${a.channelId}, ${a.authorId}, ${a.text}, ch.last_seq, true, ${a.nonce}, ${a.now} FROM ch
        RETURNING id
      ), men AS (
        INSERT INTO message_mentions (message_id, kind, user_id, recipients)
        SELECT m.id, k::"MentionKind", u::bigint, CASE WHEN k = 'HERE' THEN ${m.hereOnline}::bigint[] ELSE '{}' END
        FROM m, unnest(${kinds}::text[], ${mentionUsers}::text[]) AS x(k, u)
      ), me AS (
        UPDATE channel_members SET last_read_seq = GREATEST(last_read_seq, (SELECT last_seq FROM ch)),
          last_read_message_id = ${a.id}, mention_count = 0
        WHERE channel_id = ${a.channelId} AND user_id = ${a.authorId}
      ), mc AS (
        UPDATE channel_members SET mention_count = mention_count + 1
        WHERE channel_id = ${a.channelId} AND ${countRule ?? Prisma.sql`false`}
      ), ob AS (
        INSERT INTO outbox (kind, aggregate_id, payload) SELECT 'message.posted', m.id, ${payload}::jsonb FROM m
      )
      SELECT last_seq AS seq FROM ch`;
}

/** The writes of a send: one statement for a plain top-level message, a transaction otherwise. */
export function createSendWrites(deps: ServiceDeps, common: MessageCommon) {
  const { prisma } = deps;

  /**
   * Thread bookkeeping for a reply, inside the send transaction: the replier, the root's author and
   * mentioned channel members follow the thread; every other follower gets one more unread reply
   * and the replier has read it all. Returns who started following (the badge sessions need it).
   */
  async function followOnReply(tx: Tx, root: Message, channelId: bigint, authorId: bigint, mentioned: bigint[]) {
    const mentionedMembers = mentioned.length
      ? (
          await tx.channelMember.findMany({
            where: { channelId, userId: { in: mentioned } },
            select: { userId: true },
          })
        ).map((m) => m.userId)
      : [];
    const candidates = [...new Set([authorId, root.authorId, ...mentionedMembers])];
    const added = await tx.$queryRaw<{ user_id: bigint }[]>`
      INSERT INTO thread_followers (root_id, user_id, channel_id, unread_count)
      SELECT ${root.id}, u, ${channelId}, CASE WHEN u = ${authorId} THEN 0 ELSE 1 END FROM unnest(${candidates}::bigint[]) AS u
      ON CONFLICT DO NOTHING RETURNING user_id`;
    const addedIds = added.map((r) => r.user_id);
    await tx.$executeRaw`
      UPDATE thread_followers SET unread_count = CASE WHEN user_id = ${authorId} THEN 0 ELSE unread_count + 1 END,
        mention_count = CASE WHEN user_id = ${authorId} THEN 0 ELSE mention_count END
      WHERE root_id = ${root.id} AND NOT (user_id = ANY(${addedIds}::bigint[]))`;
    return addedIds;
  }

  /** The hot path (see sendTopLevelSql): one statement, atomic on its own, through the hot-statement port. */
  async function sendTopLevel(a: TopLevelSend): Promise<Message> {
    const [row] = await deps.rawQuery<{ seq: bigint }>(sendTopLevelSql(a));
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

  /** Replies and messages with files: one interactive transaction, the channel row locked last. */
  async function sendInTx(a: {
    id: bigint;
    channelId: bigint;
    authorId: bigint;
    text: string;
    nonce: string | null;
    now: Date;
    mentions: Mentions;
    root: Message | null;
    alsoSendToChannel: boolean;
    fileIds: bigint[];
  }): Promise<{ message: Message; newFollowers: bigint[] }> {
    const listed = !a.root || a.alsoSendToChannel;
    let newFollowers: bigint[] = [];
    const message = await withTx(prisma, async (tx) => {
      const m = await tx.message.create({
        data: {
          id: a.id,
          channelId: a.channelId,
          authorId: a.authorId,
          text: a.text,
          seq: null, // set below, last, so the channel row stays locked as briefly as possible
          threadRootId: a.root?.id ?? null,
          alsoSentToChannel: Boolean(a.root && a.alsoSendToChannel),
          listed,
          clientNonce: a.nonce,
          createdAt: a.now,
        },
      });
      await common.writeMentions(tx, a.id, a.mentions);
      if (a.fileIds.length)
        await tx.messageFile.createMany({ data: a.fileIds.map((fileId) => ({ messageId: a.id, fileId })) });
      if (a.root) {
        await tx.message.update({
          where: { id: a.root.id },
          data: { replyCount: { increment: 1 }, lastReplyAt: a.now },
        });
        newFollowers = await followOnReply(tx, a.root, a.channelId, a.authorId, a.mentions.userIds);
        // Thread mention counts: followers for whom the reply counts as a mention (the one rule).
        if (mayCountForAnyone(a.mentions)) {
          await tx.$executeRaw`
            UPDATE thread_followers SET mention_count = mention_count + 1
            WHERE root_id = ${a.root.id} AND user_id IN (
              SELECT user_id FROM channel_members
              WHERE channel_id = ${a.channelId} AND ${mentionCountSql({ authorId: a.authorId, ...a.mentions })})`;
        }
      }
      await tx.outboxEvent.create({
        data: {
          kind: 'message.posted',
          aggregateId: a.id,
          payload: { messageId: a.id.toString(), channelId: a.channelId.toString() },
        },
      });
      if (!listed) return m;
      // Locks the channel row until commit: sends to one channel are serialized here, so the
      // sequence is gap-free. Everything that does not need the sequence is done above.
      const [row] = await tx.$queryRaw<{ last_seq: bigint }[]>`
        UPDATE channels SET last_seq = last_seq + 1,
          last_message_id = GREATEST(COALESCE(last_message_id, 0), ${a.id})
        WHERE id = ${a.channelId} RETURNING last_seq`;
      const seq = row!.last_seq;
      await tx.$executeRaw`UPDATE messages SET seq = ${seq} WHERE id = ${a.id}`;
      // The author has read their own message.
      await tx.$executeRaw`
        UPDATE channel_members SET last_read_seq = GREATEST(last_read_seq, ${seq}), last_read_message_id = ${a.id},
          mention_count = 0
        WHERE channel_id = ${a.channelId} AND user_id = ${a.authorId}`;
      if (mayCountForAnyone(a.mentions)) {
        await tx.$executeRaw`
          UPDATE channel_members SET mention_count = mention_count + 1
          WHERE channel_id = ${a.channelId} AND ${mentionCountSql({ authorId: a.authorId, ...a.mentions })}`;
      }
      return { ...m, seq };
    });
    return { message, newFollowers };
  }

  return { sendTopLevel, sendInTx };
}
