/** Channels: direct messages (one channel per set of people). */
import type { ServiceDeps } from '../deps.js';
import { badInput, notFound } from '../errors.js';
import { withTx, isUniqueViolation } from '../../infra/db/tx.js';
import type { Viewer } from '../viewer.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import { addMembers, announce } from './channels.membership.js';

const MAX_DM_USERS = 9; // including the viewer, as in Slack's group DMs

export function createDirectMessages(deps: ServiceDeps, workspaces: WorkspacesService) {
  const { prisma, ids, events } = deps;

  /** The DM (or group DM) between the viewer and these users; the same set of users always gets the same channel. */
  async function openDirectMessage(viewer: Viewer, workspaceId: bigint, otherIds: bigint[]) {
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
      announce(events, channel.id, userIds, true);
      return channel;
    } catch (err) {
      // Two people opened the same DM at once: the other insert won; return its channel.
      if (isUniqueViolation(err)) return prisma.channel.findUniqueOrThrow({ where: { dmKey } });
      throw err;
    }
  }

  return { openDirectMessage };
}
