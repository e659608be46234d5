import type { ServiceDeps } from '../deps.js';
import { badInput, conflict, forbidden, notFound } from '../errors.js';
import { withTx, isUniqueViolation } from '../../infra/db/tx.js';
import type { Tx } from '../../infra/db/database.js';
import { requireScope, type Viewer } from '../viewer.js';
import { nameArg, pageSize } from '../validate.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import type { Channel, ChannelMember, NotificationLevel } from '../../generated/prisma/client.js';
import { GENERAL_CHANNEL } from '../workspaces/workspaces.service.js';

/** Slack's rule for channel names: lower case letters, digits, hyphens and underscores, up to 80. */
const CHANNEL_NAME = /^[\p{Ll}\p{Lo}\p{N}_-]{1,80}$/u;
const MAX_DM_USERS = 9; // including the viewer, as in Slack's group DMs

interface AccessRow extends Channel {
  mUserId: bigint | null;
  mJoinedAt: Date | null;
  mLastReadSeq: bigint | null;
  mLastReadMessageId: bigint | null;
  mMentionCount: number | null;
  mNotificationLevel: NotificationLevel | null;
  mMuted: boolean | null;
  inWorkspace: boolean;
}

export interface ChannelAccess {
  channel: Channel;
  /** The viewer's membership, or null for a public channel they have not joined. */
  membership: ChannelMember | null;
}

export function createChannelsService(deps: ServiceDeps, workspaces: WorkspacesService) {
  const { prisma, ids, events } = deps;

  /**
   * Loads a channel the viewer may read. Public channels are readable by every workspace member;
   * private channels and DMs only by their members. Anything else is NOT_FOUND, the same answer
   * as for an id that does not exist.
   */
  async function accessChannel(
    viewer: Viewer,
    channelId: bigint,
    db: Tx | typeof prisma = prisma,
  ): Promise<ChannelAccess> {
    requireScope(viewer, 'CHANNELS_READ');
    // One round trip: the channel, the viewer's membership, and whether they are in its workspace.
    const [row] = await db.$queryRaw<AccessRow[]>`
      SELECT c.id, c.workspace_id AS "workspaceId", c.kind::text AS kind, c.name, c.topic, c.dm_key AS "dmKey",
             c.created_by_id AS "createdById", c.created_at AS "createdAt", c.last_seq AS "lastSeq",
             c.last_message_id AS "lastMessageId", c.member_count AS "memberCount",
             cm.user_id AS "mUserId", cm.joined_at AS "mJoinedAt", cm.last_read_seq AS "mLastReadSeq",
             cm.last_read_message_id AS "mLastReadMessageId", cm.mention_count AS "mMentionCount",
             cm.notification_level::text AS "mNotificationLevel", cm.muted AS "mMuted",
             EXISTS (SELECT 1 FROM workspace_members wm WHERE wm.workspace_id = c.workspace_id AND wm.user_id = ${viewer.userId}) AS "inWorkspace"
      FROM channels c LEFT JOIN channel_members cm ON cm.channel_id = c.id AND cm.user_id = ${viewer.userId}
      WHERE c.id = ${channelId}`;
    if (!row || (viewer.kind === 'bot' && row.workspaceId !== viewer.workspaceId)) throw notFound('channel', channelId);
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
      };
      return { channel, membership };
    }
    if (channel.kind === 'PUBLIC' && row.inWorkspace) return { channel, membership: null };
    throw notFound('channel', channelId);
  }

  /** Like accessChannel, and the viewer must be a member (to post, react, mark read). */
  async function accessMembership(viewer: Viewer, channelId: bigint, db: Tx | typeof prisma = prisma) {
    const access = await accessChannel(viewer, channelId, db);
    if (!access.membership) throw forbidden('channel/not_member', 'Join the channel first');
    return { channel: access.channel, membership: access.membership };
  }

  /** Adds members inside a transaction; returns the ids actually added. */
  async function addMembers(tx: Tx, channel: Channel, userIds: bigint[]): Promise<bigint[]> {
    const added: bigint[] = [];
    for (const userId of userIds) {
      const n = await tx.$executeRaw`
        INSERT INTO channel_members (channel_id, user_id, last_read_seq, last_read_message_id)
        VALUES (${channel.id}, ${userId}, ${channel.lastSeq}, ${channel.lastMessageId})
        ON CONFLICT DO NOTHING`;
      if (n) added.push(userId);
    }
    if (added.length) {
      await tx.channel.update({ where: { id: channel.id }, data: { memberCount: { increment: added.length } } });
    }
    return added;
  }

  function announce(channelId: bigint, userIds: bigint[], joined: boolean) {
    for (const u of userIds) {
      events.publish({ type: 'MembershipChanged', channelId: channelId.toString(), userId: u.toString(), joined });
    }
  }

  return {
    accessChannel,
    accessMembership,

    async createChannel(
      viewer: Viewer,
      input: { workspaceId: bigint; name: string; private?: boolean | null; topic?: string | null },
    ) {
      requireScope(viewer, 'CHANNELS_WRITE');
      await workspaces.accessWorkspace(viewer, input.workspaceId);
      const name = nameArg(input.name, 'name', 80).replace(/^#/, '').toLowerCase();
      if (!CHANNEL_NAME.test(name)) {
        throw badInput('channel/bad_name', 'channel names use lower-case letters, digits, - and _ (at most 80)', {
          field: 'name',
        });
      }
      const topic = (input.topic ?? '').trim();
      if ([...topic].length > 250)
        throw badInput('channel/topic_too_long', 'topic must be at most 250 characters', { field: 'topic' });
      const id = ids.next();
      try {
        const channel = await withTx(prisma, (tx) =>
          tx.channel.create({
            data: {
              id,
              workspaceId: input.workspaceId,
              kind: input.private ? 'PRIVATE' : 'PUBLIC',
              name,
              topic,
              createdById: viewer.userId,
              memberCount: 1,
              members: { create: { userId: viewer.userId } },
            },
          }),
        );
        announce(channel.id, [viewer.userId], true);
        return channel;
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict('channel/name_taken', `a channel named ${name} already exists`);
        throw err;
      }
    },

    async setTopic(viewer: Viewer, channelId: bigint, topicInput: string) {
      const { channel } = await accessMembership(viewer, channelId);
      const topic = topicInput.trim();
      if ([...topic].length > 250)
        throw badInput('channel/topic_too_long', 'topic must be at most 250 characters', { field: 'topic' });
      return prisma.channel.update({ where: { id: channel.id }, data: { topic } });
    },

    /** Joins a public channel (idempotent). Private channels need an invitation. */
    async joinChannel(viewer: Viewer, channelId: bigint) {
      requireScope(viewer, 'CHANNELS_WRITE');
      const { channel, membership } = await accessChannel(viewer, channelId);
      if (membership) return channel;
      if (channel.kind !== 'PUBLIC') throw notFound('channel', channelId); // unreachable: accessChannel hid it
      const added = await withTx(prisma, async (tx) => {
        const fresh = await tx.channel.findUniqueOrThrow({ where: { id: channelId } });
        return addMembers(tx, fresh, [viewer.userId]);
      });
      announce(channelId, added, true);
      return prisma.channel.findUniqueOrThrow({ where: { id: channelId } });
    },

    async leaveChannel(viewer: Viewer, channelId: bigint): Promise<boolean> {
      requireScope(viewer, 'CHANNELS_WRITE');
      const { channel, membership } = await accessChannel(viewer, channelId);
      if (!membership) return false;
      if (channel.kind === 'DIRECT') throw badInput('channel/cannot_leave_dm', 'direct messages cannot be left');
      if (channel.kind === 'PUBLIC' && channel.name === GENERAL_CHANNEL) {
        throw badInput('channel/cannot_leave_general', `#${GENERAL_CHANNEL} cannot be left`);
      }
      await withTx(prisma, async (tx) => {
        const n = await tx.channelMember.deleteMany({ where: { channelId, userId: viewer.userId } });
        if (n.count)
          await tx.channel.update({ where: { id: channelId }, data: { memberCount: { decrement: n.count } } });
      });
      announce(channelId, [viewer.userId], false);
      return true;
    },

    /** Adds workspace members to a channel the viewer belongs to. */
    async inviteToChannel(viewer: Viewer, channelId: bigint, userIds: bigint[]) {
      requireScope(viewer, 'CHANNELS_WRITE');
      const { channel } = await accessMembership(viewer, channelId);
      if (channel.kind === 'DIRECT') throw badInput('channel/dm_fixed', 'open a new direct message to add people');
      if (userIds.length === 0) throw badInput('input/empty', 'userIds must not be empty', { field: 'userIds' });
      const inWorkspace = await prisma.workspaceMember.findMany({
        where: { workspaceId: channel.workspaceId, userId: { in: userIds } },
        select: { userId: true },
      });
      if (inWorkspace.length !== userIds.length) {
        const known = new Set(inWorkspace.map((m) => m.userId));
        throw notFound(
          'user',
          userIds.find((u) => !known.has(u)),
        );
      }
      const added = await withTx(prisma, async (tx) => {
        const fresh = await tx.channel.findUniqueOrThrow({ where: { id: channelId } });
        return addMembers(tx, fresh, userIds);
      });
      announce(channelId, added, true);
      return prisma.channel.findUniqueOrThrow({ where: { id: channelId } });
    },

    /** The DM (or group DM) between the viewer and these users; the same set of users always gets the same channel. */
    async openDirectMessage(viewer: Viewer, workspaceId: bigint, otherIds: bigint[]) {
      await workspaces.accessWorkspace(viewer, workspaceId);
      const userIds = [...new Set([viewer.userId, ...otherIds])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (userIds.length > MAX_DM_USERS) {
        throw badInput('channel/dm_too_large', `a direct message holds at most ${MAX_DM_USERS} people`, {
          field: 'userIds',
        });
      }
      const members = await prisma.workspaceMember.findMany({ where: { workspaceId, userId: { in: userIds } } });
      if (members.length !== userIds.length) {
        const known = new Set(members.map((m) => m.userId));
        throw notFound(
          'user',
          userIds.find((u) => !known.has(u)),
        );
      }
      const dmKey = `${workspaceId}:${userIds.join(',')}`;
      const existing = await prisma.channel.findUnique({ where: { dmKey } });
      if (existing) return existing;
      try {
        const channel = await withTx(prisma, async (tx) => {
          const c = await tx.channel.create({
            data: { id: ids.next(), workspaceId, kind: 'DIRECT', name: '', dmKey, createdById: viewer.userId },
          });
          await addMembers(tx, c, userIds);
          return tx.channel.findUniqueOrThrow({ where: { id: c.id } });
        });
        announce(channel.id, userIds, true);
        return channel;
      } catch (err) {
        // Two people opened the same DM at once: the other insert won; return its channel.
        if (isUniqueViolation(err)) return prisma.channel.findUniqueOrThrow({ where: { dmKey } });
        throw err;
      }
    },

    /** Public channels of a workspace, by name, with an optional name filter; cursor = the last channel's id. */
    async browse(
      viewer: Viewer,
      workspaceId: bigint,
      opts: { query?: string | null; first?: number | null; after?: string | null },
    ) {
      await workspaces.accessWorkspace(viewer, workspaceId);
      const take = pageSize(opts.first, deps.limits.maxPageSize);
      const query = (opts.query ?? '').trim().toLowerCase().replace(/^#/, '');
      if (query.length > 80)
        throw badInput('input/too_long', 'query must be at most 80 characters', { field: 'query' });
      let afterName: string | null = null;
      let afterId: bigint | null = null;
      if (opts.after) {
        const cursor = decodeNameCursor(opts.after);
        if (!cursor) throw badInput('input/bad_cursor', 'after is not a valid cursor', { field: 'after' });
        [afterName, afterId] = cursor;
      }
      const like = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const rows = await prisma.$queryRaw<Channel[]>`
        SELECT id FROM channels
        WHERE workspace_id = ${workspaceId} AND kind = 'PUBLIC' AND lower(name) LIKE ${like}
          AND (${afterName}::text IS NULL OR (lower(name), id) > (${afterName}::text, ${afterId}::bigint))
        ORDER BY lower(name), id
        LIMIT ${take + 1}`;
      const ids = rows.slice(0, take).map((r) => r.id);
      const channels = await prisma.channel.findMany({ where: { id: { in: ids } } });
      const byId = new Map(channels.map((c) => [c.id, c]));
      const page = ids.map((id) => byId.get(id)!).filter(Boolean);
      return {
        nodes: page,
        cursorOf: (c: Channel) => encodeNameCursor(c.name.toLowerCase(), c.id),
        hasNextPage: rows.length > take,
      };
    },

    /** The viewer's channels (memberships) in a workspace, or in all workspaces. */
    async myChannels(viewer: Viewer, workspaceId?: bigint) {
      const rows = await prisma.channelMember.findMany({
        where: { userId: viewer.userId, ...(workspaceId ? { channel: { workspaceId } } : {}) },
        include: { channel: true },
      });
      return rows.map((r) => r.channel).sort((a, b) => (a.id < b.id ? -1 : 1));
    },

    async members(viewer: Viewer, channelId: bigint, opts: { first?: number | null; after?: bigint | null }) {
      await accessChannel(viewer, channelId);
      const take = pageSize(opts.first, deps.limits.maxPageSize);
      const rows = await prisma.channelMember.findMany({
        where: { channelId, ...(opts.after ? { userId: { gt: opts.after } } : {}) },
        orderBy: { userId: 'asc' },
        take: take + 1,
        include: { user: true },
      });
      return { nodes: rows.slice(0, take).map((r) => r.user), hasNextPage: rows.length > take };
    },

    async setNotificationLevel(viewer: Viewer, channelId: bigint, level: NotificationLevel, muted?: boolean | null) {
      await accessMembership(viewer, channelId);
      const m = await prisma.channelMember.update({
        where: { channelId_userId: { channelId, userId: viewer.userId } },
        data: { notificationLevel: level, ...(muted === null || muted === undefined ? {} : { muted }) },
      });
      events.publish({
        type: 'MemberSettingsChanged',
        channelId: channelId.toString(),
        userId: viewer.userId.toString(),
        notificationLevel: m.notificationLevel,
        muted: m.muted,
      });
      return prisma.channel.findUniqueOrThrow({ where: { id: channelId } });
    },
  };
}

function encodeNameCursor(name: string, id: bigint): string {
  return Buffer.from(JSON.stringify([name, id.toString()])).toString('base64url');
}

function decodeNameCursor(cursor: string): [string, bigint] | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      typeof v[1] === 'string' &&
      /^\d{1,19}$/.test(v[1])
    ) {
      return [v[0], BigInt(v[1])];
    }
  } catch {
    /* fall through */
  }
  return null;
}

export type ChannelsService = ReturnType<typeof createChannelsService>;
