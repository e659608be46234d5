import type { ServiceDeps } from '../deps.js';
import type { Viewer } from '../viewer.js';
import { requireScope } from '../viewer.js';
import type { User } from '../../generated/prisma/client.js';
import { notFound } from '../errors.js';
import { LRUCache } from 'lru-cache';
import { createBatcher } from '../coalesce.js';

/**
 * Profiles (name, avatar...) are read on every page for its authors: a process-wide cache keeps
 * them this long at most; a profile change made in this process is seen at once.
 */
const PROFILE_TTL_MS = 5_000;
const PROFILE_CACHE_MAX = 50_000;

/** A user as shown to others: never the password hash. */
export type Profile = Omit<User, 'passwordHash'>;

export function createUsersService(deps: ServiceDeps) {
  const { prisma } = deps;
  const profileCache = new LRUCache<string, Profile>({ max: PROFILE_CACHE_MAX, ttl: PROFILE_TTL_MS });
  /** Concurrent profile reads of every request share one statement. */
  const loadProfile = createBatcher<bigint, Profile | null>(async (ids) => {
    const rows = await prisma.user.findMany({ where: { id: { in: [...ids] } }, omit: { passwordHash: true } });
    const byId = new Map(rows.map((u) => [u.id, u]));
    return ids.map((id) => byId.get(id) ?? null);
  }, String);

  return {
    /**
     * Profiles by id (null where unknown), from the process-wide short-lived cache or one batched
     * read shared by concurrent requests. No visibility check: for authors of messages the viewer
     * may already read.
     */
    async profiles(ids: readonly bigint[]): Promise<(Profile | null)[]> {
      return Promise.all(
        ids.map(async (id) => {
          const hit = profileCache.get(id.toString());
          if (hit) return hit;
          const user = await loadProfile(id);
          if (user) profileCache.set(id.toString(), user);
          return user;
        }),
      );
    },

    /** Forgets a cached profile (after it changed). */
    forgetProfile(id: bigint) {
      profileCache.delete(id.toString());
    },

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
