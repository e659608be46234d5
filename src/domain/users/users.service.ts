import type { ServiceDeps } from '../deps.js';
import type { Viewer } from '../viewer.js';
import { requireScope } from '../viewer.js';
import type { User } from '../../generated/prisma/client.js';
import { notFound } from '../errors.js';

export function createUsersService(deps: ServiceDeps) {
  const { prisma } = deps;
  return {
    /**
     * Users the viewer may see: themselves and anyone sharing a workspace with them. Unknown or
     * hidden ids come back as null in their position.
     */
    visibleUsers,

    /**
     * The users, when the viewer may see every one of them; otherwise NOT_FOUND, without naming
     * which, so a hidden user answers exactly like an unknown id (presence watches and queries).
     */
    async requireVisible(viewer: Viewer, ids: bigint[]): Promise<User[]> {
      const users = await visibleUsers(viewer, ids);
      if (users.some((u) => u === null)) throw notFound('user');
      return users as User[];
    },

    async me(viewer: Viewer): Promise<User> {
      return prisma.user.findUniqueOrThrow({ where: { id: viewer.userId } });
    },
  };

  async function visibleUsers(viewer: Viewer, ids: bigint[]): Promise<(User | null)[]> {
    requireScope(viewer, 'USERS_READ');
    if (ids.length === 0) return [];
    const rows = await prisma.$queryRaw<{ id: bigint }[]>`
        SELECT DISTINCT wm.user_id AS id FROM workspace_members wm
        WHERE wm.user_id = ANY(${ids}::bigint[]) AND wm.workspace_id IN (
          SELECT workspace_id FROM workspace_members WHERE user_id = ${viewer.userId})`;
    const visible = new Set(rows.map((r) => r.id));
    visible.add(viewer.userId);
    const users = await prisma.user.findMany({ where: { id: { in: ids.filter((i) => visible.has(i)) } } });
    const byId = new Map(users.map((u) => [u.id, u]));
    return ids.map((i) => byId.get(i) ?? null);
  }
}
