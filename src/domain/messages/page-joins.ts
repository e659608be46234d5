/**
 * What a page's messages carry besides their rows, for many messages in one statement each (one
 * fixed text for any number of ids): their reactions and their mentions. These run for every page
 * a client renders, so they go through Database.rawQuery (node-postgres prepared statements on
 * PostgreSQL) rather than Prisma's model queries; rows are named and typed as Prisma's models
 * return them (tests/api/raw-reads.test.ts compares the two). Exported so bench/send-path.bench.ts
 * and that test run the same SQL.
 */
import { Prisma, type MessageMention, type Reaction } from '../../generated/prisma/client.js';
import type { RawQuery } from '../../infra/db/database.js';

/** The reactions of these messages, oldest first within each message. */
export function reactionsSql(messageIds: readonly bigint[]): Prisma.Sql {
  return Prisma.sql`
    SELECT message_id AS "messageId", user_id AS "userId", emoji, created_at AS "createdAt"
    FROM reactions WHERE message_id = ANY(${messageIds}::bigint[])
    ORDER BY message_id, created_at`;
}

/** The mentions of these messages, in the order they were written. */
export function mentionsSql(messageIds: readonly bigint[]): Prisma.Sql {
  return Prisma.sql`
    SELECT id, message_id AS "messageId", kind::text AS kind, user_id AS "userId", recipients::text[] AS recipients
    FROM message_mentions WHERE message_id = ANY(${messageIds}::bigint[])
    ORDER BY id`;
}

/** The reads above on one database (the composition root hands them to the request loaders). */
export function createPageJoins(rawQuery: RawQuery) {
  return {
    reactions: (messageIds: readonly bigint[]): Promise<Reaction[]> => rawQuery<Reaction>(reactionsSql(messageIds)),
    async mentions(messageIds: readonly bigint[]): Promise<MessageMention[]> {
      // int8[] is text here so both adapters return the same thing; bigints as Prisma gives them.
      const rows = await rawQuery<Omit<MessageMention, 'recipients'> & { recipients: string[] }>(
        mentionsSql(messageIds),
      );
      return rows.map((r) => ({ ...r, recipients: r.recipients.map(BigInt) }));
    },
  };
}

export type PageJoins = ReturnType<typeof createPageJoins>;
