/** Channels: browsing public channels, the viewer's channels, a channel's members and the workspace directory. */
import type { ServiceDeps } from '../deps.js';
import { badInput } from '../errors.js';
import { requireScope, type Viewer } from '../viewer.js';
import {
  cursorCodec,
  idCursor,
  pageFrom,
  pageWindow,
  type ConnectionArgs,
  type CursorCodec,
  type Page,
} from '../paging.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import { Prisma, type Channel, type ChannelMember, type User } from '../../generated/prisma/client.js';
import type { ChannelAccessChecks } from './channels.access.js';

export function createChannelBrowsing(deps: ServiceDeps, workspaces: WorkspacesService, access: ChannelAccessChecks) {
  const { prisma } = deps;
  const { accessChannel } = access;

  /**
   * Public channels of a workspace by name (case-insensitive, then id), optionally those whose
   * name contains `query`; a Relay connection over that order.
   */
  async function browse(
    viewer: Viewer,
    workspaceId: bigint,
    opts: ConnectionArgs & { query?: string | null },
  ): Promise<Page<Channel> & { cursorOf: (c: Channel) => string }> {
    const w = pageWindow(opts, deps.limits.maxPageSize, channelCursor);
    await workspaces.accessWorkspace(viewer, workspaceId);
    const query = (opts.query ?? '').trim().toLowerCase().replace(/^#/, '');
    if (query.length > 80) throw badInput('input/too_long', 'query must be at most 80 characters', { field: 'query' });
    const [afterName, afterId] = w.after ?? [null, null];
    const [beforeName, beforeId] = w.before ?? [null, null];
    const like = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await prisma.$queryRaw<{ id: bigint }[]>`
      SELECT id FROM channels
      WHERE workspace_id = ${workspaceId} AND kind = 'PUBLIC' AND lower(name) LIKE ${like}
        AND (${afterName}::text IS NULL OR (lower(name), id) > (${afterName}::text, ${afterId}::bigint))
        AND (${beforeName}::text IS NULL OR (lower(name), id) < (${beforeName}::text, ${beforeId}::bigint))
      ORDER BY lower(name) ${direction(w)}, id ${direction(w)}
      LIMIT ${w.take + 1}`;
    const page = pageFrom(rows, w);
    const channels = await prisma.channel.findMany({ where: { id: { in: page.nodes.map((r) => r.id) } } });
    const byId = new Map(channels.map((c) => [c.id, c]));
    return {
      ...page,
      nodes: page.nodes.map((r) => byId.get(r.id)).filter((c) => c !== undefined),
      cursorOf: (c: Channel) => channelCursor.encode([c.name.toLowerCase(), c.id]),
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

  /** Members of a channel the viewer may read, by user id; a Relay connection over that order. */
  async function members(
    viewer: Viewer,
    channelId: bigint,
    opts: ConnectionArgs,
  ): Promise<Page<User> & { cursorOf: (u: { id: bigint }) => string }> {
    const w = pageWindow(opts, deps.limits.maxPageSize, memberCursor);
    await accessChannel(viewer, channelId);
    const after = w.after?.[0] ?? null;
    const before = w.before?.[0] ?? null;
    const rows = await prisma.channelMember.findMany({
      where: {
        channelId,
        ...(after !== null || before !== null
          ? { userId: { ...(after !== null ? { gt: after } : {}), ...(before !== null ? { lt: before } : {}) } }
          : {}),
      },
      orderBy: { userId: w.forward ? 'asc' : 'desc' },
      take: w.take + 1,
      include: { user: { omit: { passwordHash: true } } },
    });
    const page = pageFrom(rows, w);
    return {
      ...page,
      // Never with password hashes (the User shape says the field exists; it is left out here).
      nodes: page.nodes.map((r) => r.user as User),
      cursorOf: (u) => memberCursor.encode([u.id]),
    };
  }

  /**
   * The workspace directory: its members by name (case-insensitive, then id), optionally those
   * whose handle, name, or a word of the name starts with `query` (mention autocomplete). Paged
   * with an opaque cursor.
   */
  async function workspaceMembers(
    viewer: Viewer,
    workspaceId: bigint,
    opts: ConnectionArgs & { query?: string | null },
  ): Promise<Page<User> & { cursorOf: (u: { id: bigint }) => string }> {
    requireScope(viewer, 'USERS_READ');
    const w = pageWindow(opts, deps.limits.maxPageSize, directoryCursor);
    await workspaces.accessWorkspace(viewer, workspaceId);
    const query = (opts.query ?? '').trim().toLowerCase().replace(/^@/, '');
    if (query.length > 80) throw badInput('input/too_long', 'query must be at most 80 characters', { field: 'query' });
    const [afterName, afterId] = w.after ?? [null, null];
    const [beforeName, beforeId] = w.before ?? [null, null];
    const escaped = query.replace(/[\\%_]/g, (c) => `\\${c}`);
    const rows = await prisma.$queryRaw<{ id: bigint; key: string }[]>`
      SELECT u.id, lower(u.name) AS key FROM workspace_members wm JOIN users u ON u.id = wm.user_id
      WHERE wm.workspace_id = ${workspaceId}
        AND (${query} = '' OR lower(u.name) LIKE ${`${escaped}%`} OR lower(u.name) LIKE ${`% ${escaped}%`}
          OR u.handle LIKE ${`${escaped}%`})
        AND (${afterName}::text IS NULL OR (lower(u.name), u.id) > (${afterName}::text, ${afterId}::bigint))
        AND (${beforeName}::text IS NULL OR (lower(u.name), u.id) < (${beforeName}::text, ${beforeId}::bigint))
      ORDER BY lower(u.name) ${direction(w)}, u.id ${direction(w)}
      LIMIT ${w.take + 1}`;
    const page = pageFrom(rows, w);
    const keys = new Map(page.nodes.map((r) => [r.id, r.key]));
    const users = await prisma.user.findMany({
      where: { id: { in: page.nodes.map((r) => r.id) } },
      omit: { passwordHash: true },
    });
    const byId = new Map(users.map((u) => [u.id, u]));
    return {
      ...page,
      // Never with password hashes (the User shape says the field exists; it is left out here).
      nodes: page.nodes.map((r) => byId.get(r.id)).filter((u) => u !== undefined) as User[],
      cursorOf: (u) => directoryCursor.encode([keys.get(u.id) ?? '', u.id]),
    };
  }

  return { browse, myMemberships, members, workspaceMembers };
}

/** Public channels by lower-case name, then id. */
const channelCursor = cursorCodec('channels', ['text', 'id']);
/** The directory: members by lower-case name, then id. */
const directoryCursor = cursorCodec('workspaceMembers', ['text', 'id']);
/** A channel's members by user id; a bare user id (the cursor this list used to hand out) is still accepted. */
const memberCursor: CursorCodec<[bigint]> = (() => {
  const codec = cursorCodec('channelMembers', ['id']);
  return {
    encode: (key) => codec.encode(key),
    decode(cursor, field) {
      const legacy = /^[0-9]+$/.test(cursor) ? idCursor.decode(cursor, field) : null;
      return legacy !== null ? [legacy] : codec.decode(cursor, field);
    },
  };
})();

/** Keyset order of a read: the list's order forward, reversed when reading from the end (last/before). */
const direction = (w: { forward: boolean }) => (w.forward ? Prisma.sql`ASC` : Prisma.sql`DESC`);
