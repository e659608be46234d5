/** Channels: who may read a channel (accessChannel) and who may act in it (accessMembership). */
import type { ServiceDeps } from '../deps.js';
import { forbidden, notFound } from '../errors.js';
import type { RawQuery, Tx } from '../../infra/db/database.js';
import { requireScope, type BotScope, type Viewer } from '../viewer.js';
import { Prisma, type Channel, type ChannelMember, type NotificationLevel } from '../../generated/prisma/client.js';
import { createBatcher } from '../coalesce.js';
import type { ChannelCache, MemberList } from './channel-cache.js';

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

/** What decides whether someone may read a channel. */
export interface ReadFacts {
  kind: string;
  workspaceId: bigint;
  /** The viewer is a member of the channel. */
  member: boolean;
  /** The viewer is a member of the channel's workspace. */
  inWorkspace: boolean;
}

/**
 * The rule, written once: members read their channels; a public channel is also readable by
 * every member of its workspace; a bot only ever sees its own workspace.
 */
export function mayRead(viewer: Viewer, facts: ReadFacts): boolean {
  if (viewer.kind === 'bot' && facts.workspaceId !== viewer.workspaceId) return false;
  return facts.member || (facts.kind === 'PUBLIC' && facts.inWorkspace);
}

/**
 * accessChannel's one round trip: the channel, the user's membership (LEFT JOIN, null columns when
 * not a member), and whether they are in its workspace. Exported so bench/send-path.bench.ts runs
 * the very same SQL text and values.
 */
export function accessChannelSql(userId: bigint, channelId: bigint): Prisma.Sql {
  return Prisma.sql`
      SELECT c.id, c.workspace_id AS "workspaceId", c.kind::text AS kind, c.name, c.topic, c.dm_key AS "dmKey",
             c.created_by_id AS "createdById", c.created_at AS "createdAt", c.last_seq AS "lastSeq",
             c.last_message_id AS "lastMessageId", c.member_count AS "memberCount",
             cm.user_id AS "mUserId", cm.joined_at AS "mJoinedAt", cm.last_read_seq AS "mLastReadSeq",
             cm.last_read_message_id AS "mLastReadMessageId", cm.mention_count AS "mMentionCount",
             cm.notification_level::text AS "mNotificationLevel", cm.muted AS "mMuted",
             cm.push_level::text AS "mPushLevel",
             EXISTS (SELECT 1 FROM workspace_members wm WHERE wm.workspace_id = c.workspace_id AND wm.user_id = ${userId}) AS "inWorkspace"
      FROM channels c LEFT JOIN channel_members cm ON cm.channel_id = c.id AND cm.user_id = ${userId}
      WHERE c.id = ${channelId}`;
}

/**
 * The read facts (channel kind and workspace, channel membership, workspace membership) of many
 * (user, channel) pairs in one statement; pairs whose channel does not exist have no row. One fixed
 * text whatever the number of pairs (arrays), so it is one prepared statement. Exported so
 * bench/send-path.bench.ts and the equivalence test run the very same SQL text and values.
 */
export function readFactsSql(pairs: readonly (readonly [bigint, bigint])[]): Prisma.Sql {
  return Prisma.sql`
        SELECT x.u AS "userId", x.c AS "channelId", c.kind::text AS kind, c.workspace_id AS "workspaceId",
               EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = x.c AND cm.user_id = x.u) AS member,
               EXISTS (SELECT 1 FROM workspace_members wm WHERE wm.workspace_id = c.workspace_id AND wm.user_id = x.u) AS "inWorkspace"
        FROM unnest(${pairs.map((p) => p[0])}::bigint[], ${pairs.map((p) => p[1])}::bigint[]) AS x(u, c)
        JOIN channels c ON c.id = x.c`;
}

/**
 * The kind, workspace and member list of many channels in one statement (user ids as
 * comma-separated text, so both database adapters return the same thing); no list for a channel
 * with more than `maxMembers`. One fixed text whatever the number of channels.
 */
export function memberSetsSql(channelIds: readonly bigint[], maxMembers: number): Prisma.Sql {
  return Prisma.sql`
      SELECT c.id, c.kind::text AS kind, c.workspace_id AS "workspaceId", c.member_count <= ${maxMembers} AS complete,
             CASE WHEN c.member_count <= ${maxMembers}
                  THEN (SELECT string_agg(cm.user_id::text, ',') FROM channel_members cm WHERE cm.channel_id = c.id) END AS members
      FROM channels c WHERE c.id = ANY(${channelIds}::bigint[])`;
}

/**
 * `rawQuery` carries the two hot reads of this module (the read facts, and accessChannel outside a
 * transaction) past Prisma's query path: prepared statements on PostgreSQL (see Database.rawQuery;
 * bench/send-path.bench.ts measured what it saves). Rows come back in the same shapes.
 */
export function createChannelAccess(prisma: ServiceDeps['prisma'], rawQuery: RawQuery, cache: ChannelCache) {
  /** The facts for many (user, channel) pairs in one statement: concurrent checks share it. */
  const readFacts = createBatcher<readonly [bigint, bigint], ReadFacts | null>(
    async (pairs) => {
      const rows = await rawQuery<ReadFacts & { userId: bigint; channelId: bigint }>(readFactsSql(pairs));
      const byPair = new Map(rows.map((r) => [`${r.userId}:${r.channelId}`, r]));
      return pairs.map(([u, c]) => byPair.get(`${u}:${c}`) ?? null);
    },
    ([u, c]) => `${u}:${c}`,
  );

  /** Channels' member lists for the cache's member sets (channel-cache.ts): concurrent loads share one statement. */
  const memberLists = createBatcher<bigint, MemberList | null>(
    async (channelIds) => {
      const rows = await rawQuery<{
        id: bigint;
        kind: string;
        workspaceId: bigint;
        complete: boolean;
        members: string | null;
      }>(memberSetsSql(channelIds, cache.maxMembers));
      const byId = new Map(rows.map((r) => [r.id, r]));
      return channelIds.map((id) => {
        const row = byId.get(id);
        if (!row) return null;
        const members = !row.complete ? null : row.members ? row.members.split(',').map(BigInt) : [];
        return { kind: row.kind, workspaceId: row.workspaceId, members };
      });
    },
    (id) => id.toString(),
  );

  /**
   * Passes when the viewer may read the channel (NOT_FOUND otherwise, like accessChannel), for
   * reads that need no channel data (history). A pass is remembered per process until a
   * membership event revokes it. A member is found in the channel's cached member set (one
   * statement for everyone who opens the channel); anyone else is asked of the database, and
   * concurrent such checks share one statement.
   */
  async function requireReadable(viewer: Viewer, channelId: bigint): Promise<void> {
    requireScope(viewer, 'CHANNELS_READ');
    if (cache.isReader(channelId, viewer.userId)) return;
    await cache.checkReader(channelId, viewer.userId, async () => {
      const listed = await cache.member(channelId, viewer.userId, () => memberLists(channelId));
      const facts: ReadFacts | null = listed
        ? { ...listed, member: true, inWorkspace: true }
        : await readFacts([viewer.userId, channelId]);
      if (!facts || !mayRead(viewer, facts)) throw notFound('channel', channelId);
    });
  }

  /**
   * Loads a channel the viewer may read. Public channels are readable by every workspace member;
   * private channels and DMs only by their members. Anything else is NOT_FOUND, the same answer
   * as for an id that does not exist. A bot needs `scope` (CHANNELS_READ to read; an action names
   * its own scope, so scopes compose: CHAT_WRITE alone posts where the bot is a member).
   */
  async function accessChannel(
    viewer: Viewer,
    channelId: bigint,
    db: Tx | typeof prisma = prisma,
    scope: BotScope = 'CHANNELS_READ',
  ): Promise<ChannelAccess> {
    requireScope(viewer, scope);
    // One round trip: the channel, the viewer's membership, and whether they are in its workspace.
    // Outside a transaction the hot path's way (rawQuery); inside one, on the transaction's connection.
    const sql = accessChannelSql(viewer.userId, channelId);
    const [row] = db === prisma ? await rawQuery<AccessRow>(sql) : await db.$queryRaw<AccessRow[]>(sql);
    if (!row) throw notFound('channel', channelId);
    if (!mayRead(viewer, { ...row, member: row.mUserId !== null, inWorkspace: row.inWorkspace }))
      throw notFound('channel', channelId);
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
    return { channel, membership: null };
  }

  /** Like accessChannel, and the viewer must be a member (to post, react, mark read). */
  async function accessMembership(
    viewer: Viewer,
    channelId: bigint,
    db: Tx | typeof prisma = prisma,
    scope: BotScope = 'CHANNELS_READ',
  ) {
    const access = await accessChannel(viewer, channelId, db, scope);
    if (!access.membership) throw forbidden('channel/not_member', 'Join the channel first');
    return { channel: access.channel, membership: access.membership };
  }

  return { accessChannel, accessMembership, requireReadable };
}

export type ChannelAccessChecks = ReturnType<typeof createChannelAccess>;
