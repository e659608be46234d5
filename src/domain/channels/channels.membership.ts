/** Channels: membership changes (join, leave, invite, notification settings) and their events. */
import type { ServiceDeps } from '../deps.js';
import { badInput, notFound } from '../errors.js';
import { withTx } from '../../infra/db/tx.js';
import { requireScope, type Viewer } from '../viewer.js';
import type { NotificationLevel } from '../../generated/prisma/client.js';
import { GENERAL_CHANNEL } from '../workspaces/workspaces.service.js';
import type { ChannelAccessChecks } from './channels.access.js';
import { addMembers } from './members.writes.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';

export { addMembers };

/** Publishes MembershipChanged for each of these users. */
export function announce(events: ServiceDeps['events'], channelId: bigint, userIds: bigint[], joined: boolean) {
  for (const u of userIds) {
    events.publish({ type: 'MembershipChanged', channelId: channelId.toString(), userId: u.toString(), joined });
  }
}

export function createMembershipMutations(
  deps: ServiceDeps,
  access: ChannelAccessChecks,
  workspaces: Pick<WorkspacesService, 'requireAdmin'>,
) {
  const { prisma, events } = deps;
  const { accessChannel, accessMembership } = access;

  /** Joins a public channel (idempotent). Private channels need an invitation. */
  async function joinChannel(viewer: Viewer, channelId: bigint) {
    requireScope(viewer, 'CHANNELS_WRITE');
    const { channel, membership } = await accessChannel(viewer, channelId);
    if (membership) return channel;
    if (channel.kind !== 'PUBLIC') throw notFound('channel', channelId); // unreachable: accessChannel hid it
    const added = await withTx(prisma, async (tx) => {
      const fresh = await tx.channel.findUniqueOrThrow({ where: { id: channelId } });
      return addMembers(tx, fresh, [viewer.userId]);
    });
    announce(events, channelId, added, true);
    return prisma.channel.findUniqueOrThrow({ where: { id: channelId } });
  }

  /** The channels nobody leaves or is removed from: a DM's members are fixed, everyone is in #general. */
  function requireLeavable(channel: { kind: string; name: string | null }) {
    if (channel.kind === 'DIRECT') throw badInput('channel/cannot_leave_dm', 'direct messages cannot be left');
    if (channel.kind === 'PUBLIC' && channel.name === GENERAL_CHANNEL) {
      throw badInput('channel/cannot_leave_general', `#${GENERAL_CHANNEL} cannot be left`);
    }
  }

  /** Deletes one membership and announces it (streams of a private channel end, badge sessions drop it). */
  async function dropMember(channelId: bigint, userId: bigint): Promise<boolean> {
    const removed = await withTx(prisma, async (tx) => {
      const n = await tx.channelMember.deleteMany({ where: { channelId, userId } });
      if (n.count) await tx.channel.update({ where: { id: channelId }, data: { memberCount: { decrement: n.count } } });
      return n.count > 0;
    });
    if (removed) announce(events, channelId, [userId], false);
    return removed;
  }

  async function leaveChannel(viewer: Viewer, channelId: bigint): Promise<boolean> {
    requireScope(viewer, 'CHANNELS_WRITE');
    const { channel, membership } = await accessChannel(viewer, channelId);
    if (!membership) return false;
    requireLeavable(channel);
    await dropMember(channelId, viewer.userId);
    return true;
  }

  /**
   * Removes someone (a person or a bot) from a channel the viewer belongs to: workspace owners and
   * admins only. False when they were not a member; NOT_FOUND for a user outside the workspace.
   */
  async function removeFromChannel(viewer: Viewer, channelId: bigint, userId: bigint): Promise<boolean> {
    requireScope(viewer, 'CHANNELS_WRITE');
    const { channel } = await accessMembership(viewer, channelId);
    await workspaces.requireAdmin(viewer, channel.workspaceId);
    requireLeavable(channel);
    if (userId === viewer.userId) return leaveChannel(viewer, channelId);
    const inWorkspace = await prisma.workspaceMember.findUnique({
      where: { workspaceId_userId: { workspaceId: channel.workspaceId, userId } },
    });
    if (!inWorkspace) throw notFound('user', userId);
    return dropMember(channelId, userId);
  }

  /** Adds workspace members to a channel the viewer belongs to. */
  async function inviteToChannel(viewer: Viewer, channelId: bigint, userIds: bigint[]) {
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
    announce(events, channelId, added, true);
    return prisma.channel.findUniqueOrThrow({ where: { id: channelId } });
  }

  async function setNotificationLevel(
    viewer: Viewer,
    channelId: bigint,
    level: NotificationLevel,
    muted?: boolean | null,
  ) {
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
  }

  return { joinChannel, leaveChannel, removeFromChannel, inviteToChannel, setNotificationLevel };
}
