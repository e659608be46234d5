import { randomBytes } from 'node:crypto';
import type { ServiceDeps } from '../deps.js';
import { forbidden, notFound, badInput } from '../errors.js';
import { withTx } from '../../infra/db/tx.js';
import { requireHuman, type BotScope, type Viewer } from '../viewer.js';
import { nameArg } from '../validate.js';
import { addMembers } from '../channels/members.writes.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { checkScopes, expiryOf } from '../bots/bots.service.js';
import type { WorkspaceRole } from '../../generated/prisma/client.js';

export const GENERAL_CHANNEL = 'general';

export function createWorkspacesService(deps: ServiceDeps) {
  const { prisma, ids } = deps;

  /** Loads a workspace the viewer belongs to; NOT_FOUND otherwise (no difference between hidden and absent). */
  async function accessWorkspace(viewer: Viewer, workspaceId: bigint) {
    if (viewer.kind === 'bot' && viewer.workspaceId !== workspaceId) throw notFound('workspace', workspaceId);
    const m = await prisma.workspaceMember.findUnique({
      where: { workspaceId_userId: { workspaceId, userId: viewer.userId } },
      include: { workspace: true },
    });
    if (!m) throw notFound('workspace', workspaceId);
    return { workspace: m.workspace, role: m.role };
  }

  async function requireAdmin(viewer: Viewer, workspaceId: bigint) {
    const w = await accessWorkspace(viewer, workspaceId);
    if (w.role === 'MEMBER') throw forbidden('workspace/not_admin', 'Only workspace owners and admins can do this');
    return w;
  }

  return {
    accessWorkspace,
    requireAdmin,

    async roleOf(userId: bigint, workspaceId: bigint): Promise<WorkspaceRole | null> {
      const m = await prisma.workspaceMember.findUnique({ where: { workspaceId_userId: { workspaceId, userId } } });
      return m?.role ?? null;
    },

    /** Creates a workspace owned by the viewer, with a #general channel every member joins. */
    async createWorkspace(viewer: Viewer, nameInput: string) {
      requireHuman(viewer, 'create workspaces');
      const name = nameArg(nameInput, 'name', 80);
      const workspaceId = ids.next();
      const channelId = ids.next();
      return withTx(prisma, async (tx) => {
        const ws = await tx.workspace.create({
          data: { id: workspaceId, name, inviteCode: randomBytes(9).toString('base64url') },
        });
        await tx.workspaceMember.create({ data: { workspaceId, userId: viewer.userId, role: 'OWNER' } });
        await tx.channel.create({
          data: {
            id: channelId,
            workspaceId,
            kind: 'PUBLIC',
            name: GENERAL_CHANNEL,
            createdById: viewer.userId,
            memberCount: 1,
            members: { create: { userId: viewer.userId } },
          },
        });
        return ws;
      });
    },

    /** Joins by invite code (idempotent) and joins #general. */
    async joinWorkspace(viewer: Viewer, inviteCode: string) {
      requireHuman(viewer, 'join workspaces');
      const code = inviteCode.trim();
      if (!code || code.length > 64)
        throw badInput('workspace/bad_invite', 'invite code is not valid', { field: 'inviteCode' });
      const ws = await prisma.workspace.findUnique({ where: { inviteCode: code } });
      if (!ws) throw notFound('invite');
      await withTx(prisma, async (tx) => {
        const inserted = await tx.$executeRaw`
          INSERT INTO workspace_members (workspace_id, user_id, role) VALUES (${ws.id}, ${viewer.userId}, 'MEMBER')
          ON CONFLICT DO NOTHING`;
        if (inserted === 0) return;
        const general = await tx.channel.findFirst({
          where: { workspaceId: ws.id, kind: 'PUBLIC', name: GENERAL_CHANNEL },
        });
        if (general) await addMembers(tx, general, [viewer.userId]);
      });
      return ws;
    },

    /** The viewer's workspaces by id, each with the viewer's role in it (one read for both). */
    async workspacesOf(viewer: Viewer) {
      const rows = await prisma.workspaceMember.findMany({
        where: { userId: viewer.userId },
        include: { workspace: true },
        orderBy: { workspaceId: 'asc' },
      });
      return rows.map((r) => ({ workspace: r.workspace, role: r.role }));
    },

    async memberCount(workspaceId: bigint) {
      return prisma.workspaceMember.count({ where: { workspaceId } });
    },

    /** Creates a bot user in the workspace and returns its token (shown once). Admins only. */
    async createBot(
      viewer: Viewer,
      workspaceId: bigint,
      nameInput: string,
      scopes: BotScope[],
      expiresInDays?: number | null,
    ) {
      requireHuman(viewer, 'create bots');
      await requireAdmin(viewer, workspaceId);
      const name = nameArg(nameInput, 'name', 80);
      const unique = checkScopes(scopes);
      const expiresAt = expiryOf(expiresInDays);
      const userId = ids.next();
      const token = newToken('chb');
      const bot = await withTx(prisma, async (tx) => {
        await tx.user.create({ data: { id: userId, name, isBot: true } });
        await tx.workspaceMember.create({ data: { workspaceId, userId, role: 'MEMBER' } });
        await tx.token.create({
          data: { id: ids.next(), userId, kind: 'BOT', tokenHash: hashToken(token), expiresAt },
        });
        return tx.bot.create({
          data: { id: ids.next(), workspaceId, userId, name, scopes: unique, createdById: viewer.userId },
        });
      });
      return { bot, token };
    },
  };
}

export type WorkspacesService = ReturnType<typeof createWorkspacesService>;
