/** Search: where the viewer may look (readable channels, as accessChannel decides) and names resolved to ids. */
import { Prisma } from '../../generated/prisma/client.js';
import type { ServiceDeps } from '../deps.js';
import type { Viewer } from '../viewer.js';
import type { ChannelRef, UserRef } from './query-parser.js';

/** Ids as map keys, and set operations on id lists. */
export const key = (id: bigint) => id.toString();
export const intersect = (a: bigint[], b: readonly bigint[]) => {
  const s = new Set(b.map(key));
  return a.filter((x) => s.has(key(x)));
};
export const minus = (a: bigint[], b: readonly bigint[]) => {
  const s = new Set(b.map(key));
  return a.filter((x) => !s.has(key(x)));
};
export const unique = (a: readonly bigint[]) => [...new Map(a.map((x) => [key(x), x])).values()];

export function createSearchAccess(prisma: ServiceDeps['prisma']) {
  /** The viewer's readable channels (accessChannel's rule), optionally within one workspace. */
  async function readableChannelIds(viewer: Viewer, workspaceId: bigint | null): Promise<bigint[]> {
    const ws = [workspaceId, viewer.kind === 'bot' ? viewer.workspaceId : null].filter((w): w is bigint => w !== null);
    const scope = ws.length ? Prisma.sql`AND c.workspace_id = ALL(${ws}::bigint[])` : Prisma.empty;
    const rows = await prisma.$queryRaw<{ id: string }[]>`
      SELECT c.id::text AS id FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
      WHERE cm.user_id = ${viewer.userId} ${scope}
      UNION
      SELECT c.id::text AS id FROM workspace_members wm JOIN channels c ON c.workspace_id = wm.workspace_id AND c.kind = 'PUBLIC'
      WHERE wm.user_id = ${viewer.userId} ${scope}`;
    return rows.map((r) => BigInt(r.id));
  }

  /** Users named by from:/mentions: values (handle, name, email, id), among the people who share a workspace with the viewer (ids and `me` as given). */
  async function resolveUsers(viewer: Viewer, refs: UserRef[]): Promise<bigint[]> {
    const out: bigint[] = [];
    const names: string[] = [];
    const emails: string[] = [];
    const handles: string[] = [];
    for (const r of refs) {
      if (r.kind === 'me') out.push(viewer.userId);
      else if (r.kind === 'id') out.push(r.id);
      else if (r.kind === 'email') emails.push(r.email);
      else {
        names.push(r.name);
        if (r.handle) handles.push(r.handle);
      }
    }
    if (names.length || emails.length) {
      const rows = await prisma.$queryRaw<{ id: string }[]>`
        SELECT DISTINCT u.id::text AS id FROM users u JOIN workspace_members wm ON wm.user_id = u.id
        WHERE wm.workspace_id IN (SELECT workspace_id FROM workspace_members WHERE user_id = ${viewer.userId})
          AND (lower(u.email) = ANY(${emails}::text[]) OR u.handle = ANY(${handles}::text[])
            OR regexp_replace(lower(normalize(u.name, NFKC)), '[[:space:]._-]+', '', 'g') = ANY(${names}::text[]))`;
      out.push(...rows.map((r) => BigInt(r.id)));
    }
    return unique(out);
  }

  /** in: values to channel ids, within the readable ones (anything else simply matches nothing). */
  async function resolveChannels(viewer: Viewer, refs: ChannelRef[], readable: bigint[]): Promise<bigint[]> {
    const out: bigint[] = [];
    const names: string[] = [];
    const dmUsers: UserRef[] = [];
    for (const r of refs) {
      if (r.kind === 'id') out.push(r.id);
      else if (r.kind === 'name') names.push(r.name);
      else dmUsers.push(r.user);
    }
    if (names.length) {
      const rows = await prisma.$queryRaw<{ id: string }[]>`
        SELECT id::text AS id FROM channels
        WHERE id = ANY(${readable}::bigint[]) AND kind <> 'DIRECT' AND lower(name) = ANY(${names}::text[])`;
      out.push(...rows.map((r) => BigInt(r.id)));
    }
    if (dmUsers.length) {
      const users = await resolveUsers(viewer, dmUsers);
      if (users.length) {
        const rows = await prisma.$queryRaw<{ id: string }[]>`
          SELECT DISTINCT cm.channel_id::text AS id FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
          WHERE c.kind = 'DIRECT' AND cm.channel_id = ANY(${readable}::bigint[]) AND cm.user_id = ANY(${users}::bigint[])`;
        out.push(...rows.map((r) => BigInt(r.id)));
      }
    }
    return intersect(unique(out), readable);
  }

  return { readableChannelIds, resolveUsers, resolveChannels };
}
