/** Channels: browsing public channels, the viewer's channels, a channel's members and the workspace directory. */
import type { ServiceDeps } from '../deps.js';
import { badInput } from '../errors.js';
import { requireScope, type Viewer } from '../viewer.js';
import { pageSize } from '../validate.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import type { Channel, ChannelMember, User } from '../../generated/prisma/client.js';
import type { ChannelAccessChecks } from './channels.access.js';

export function createChannelBrowsing(deps: ServiceDeps, workspaces: WorkspacesService, access: ChannelAccessChecks) {
  const { prisma } = deps;
  const { accessChannel } = access;

  /** Public channels of a workspace, by name, with an optional name filter; cursor = the last channel's id. */
  async function browse(
    viewer: Viewer,
    workspaceId: bigint,
    opts: { query?: string | null; first?: number | null; after?: string | null },
  ) {
    await workspaces.accessWorkspace(viewer, workspaceId);
    const take = pageSize(opts.first, deps.limits.maxPageSize);
    const query = (opts.query ?? '').trim().toLowerCase().replace(/^#/, '');
    if (query.length > 80) throw badInput('input/too_long', 'query must be at most 80 characters', { field: 'query' });
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
  }

  /**
   * The viewer's channels in a workspace, or in all workspaces, each with the viewer's membership
   * (read position, mention count, notification level) from the same read, by channel id: a
   * channel list shows both, so the caller need not read the memberships again.
   */
  async function myMemberships(
    viewer: Viewer,
    workspaceId?: bigint,
  ): Promise<{ channel: Channel; membership: ChannelMember }[]> {
    const rows = await prisma.channelMember.findMany({
      where: { userId: viewer.userId, ...(workspaceId ? { channel: { workspaceId } } : {}) },
      include: { channel: true },
    });
    return rows
      .map(({ channel, ...membership }) => ({ channel, membership }))
      .sort((a, b) => (a.channel.id < b.channel.id ? -1 : 1));
  }

  async function members(viewer: Viewer, channelId: bigint, opts: { first?: number | null; after?: bigint | null }) {
    await accessChannel(viewer, channelId);
    const take = pageSize(opts.first, deps.limits.maxPageSize);
    const rows = await prisma.channelMember.findMany({
      where: { channelId, ...(opts.after ? { userId: { gt: opts.after } } : {}) },
      orderBy: { userId: 'asc' },
      take: take + 1,
      include: { user: true },
    });
    return { nodes: rows.slice(0, take).map((r) => r.user), hasNextPage: rows.length > take };
  }

  /**
   * The workspace directory: its members by name (case-insensitive, then id), optionally those
   * whose handle, name, or a word of the name starts with `query` (mention autocomplete). Paged
   * with an opaque cursor.
   */
  async function workspaceMembers(
    viewer: Viewer,
    workspaceId: bigint,
    opts: { query?: string | null; first?: number | null; after?: string | null },
  ) {
    requireScope(viewer, 'USERS_READ');
    await workspaces.accessWorkspace(viewer, workspaceId);
    const take = pageSize(opts.first, deps.limits.maxPageSize);
    const query = (opts.query ?? '').trim().toLowerCase().replace(/^@/, '');
    if (query.length > 80) throw badInput('input/too_long', 'query must be at most 80 characters', { field: 'query' });
    let afterName: string | null = null;
    let afterId: bigint | null = null;
    if (opts.after) {
      const cursor = decodeNameCursor(opts.after);
      if (!cursor) throw badInput('input/bad_cursor', 'after is not a valid cursor', { field: 'after' });
      [afterName, afterId] = cursor;
    }
    const escaped = query.replace(/[\\%_]/g, (c) => `\\${c}`);
    const rows = await prisma.$queryRaw<{ id: bigint; key: string }[]>`
      SELECT u.id, lower(u.name) AS key FROM workspace_members wm JOIN users u ON u.id = wm.user_id
      WHERE wm.workspace_id = ${workspaceId}
        AND (${query} = '' OR lower(u.name) LIKE ${`${escaped}%`} OR lower(u.name) LIKE ${`% ${escaped}%`}
          OR u.handle LIKE ${`${escaped}%`})
        AND (${afterName}::text IS NULL OR (lower(u.name), u.id) > (${afterName}::text, ${afterId}::bigint))
      ORDER BY lower(u.name), u.id
      LIMIT ${take + 1}`;
    const page = rows.slice(0, take);
    const keys = new Map(page.map((r) => [r.id, r.key]));
    const users = await prisma.user.findMany({
      where: { id: { in: page.map((r) => r.id) } },
      omit: { passwordHash: true },
    });
    const byId = new Map(users.map((u) => [u.id, u]));
    return {
      // Never with password hashes (the User shape says the field exists; it is left out here).
      nodes: page.map((r) => byId.get(r.id)).filter((u) => u !== undefined) as User[],
      cursorOf: (u: { id: bigint }) => encodeNameCursor(keys.get(u.id) ?? '', u.id),
      hasNextPage: rows.length > take,
      hasPreviousPage: afterName !== null,
    };
  }

  return { browse, myMemberships, members, workspaceMembers };
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
