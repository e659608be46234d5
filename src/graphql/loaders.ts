import DataLoader from 'dataloader';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Viewer } from '../domain/viewer.js';
import type {
  Channel,
  ChannelMember,
  File,
  Message,
  MessageMention,
  MessageUnfurl,
  User,
  Workspace,
} from '../generated/prisma/client.js';

export interface ReactionSummary {
  emoji: string;
  count: number;
  userIds: bigint[];
}

const key = (k: bigint) => k.toString();

function byKey<T>(keys: readonly bigint[], rows: T[], of: (row: T) => bigint): (T | null)[] {
  const map = new Map(rows.map((r) => [of(r), r]));
  return keys.map((k) => map.get(k) ?? null);
}

function groupBy<T>(keys: readonly bigint[], rows: T[], of: (row: T) => bigint): T[][] {
  const map = new Map<bigint, T[]>();
  for (const r of rows) {
    const k = of(r);
    const list = map.get(k);
    if (list) list.push(r);
    else map.set(k, [r]);
  }
  return keys.map((k) => map.get(k) ?? []);
}

/**
 * Per-request batch loaders for the fields a chat screen asks for many times (authors,
 * reactions, mentions, memberships). Made fresh for each request or subscription event so they
 * never go stale. Access checks happen before anything reaches these: they only batch reads.
 */
export function createLoaders(
  prisma: PrismaClient,
  viewer: Viewer | null,
  shared: {
    /** Process-wide profile reads (cached briefly, batched across requests): users.profiles. */
    profiles?(ids: readonly bigint[]): Promise<(Omit<User, 'passwordHash'> | null)[]>;
  } = {},
) {
  const opts = { cacheKeyFn: key };
  return lazily({
    user: () =>
      new DataLoader<bigint, User | null, string>(
        // Never load password hashes for display.
        async (ids) =>
          shared.profiles
            ? ((await shared.profiles(ids)) as (User | null)[])
            : byKey(
                ids,
                (await prisma.user.findMany({
                  where: { id: { in: [...ids] } },
                  omit: { passwordHash: true },
                })) as User[],
                (u) => u.id,
              ),
        opts,
      ),
    message: () =>
      new DataLoader<bigint, Message | null, string>(
        async (ids) => byKey(ids, await prisma.message.findMany({ where: { id: { in: [...ids] } } }), (m) => m.id),
        opts,
      ),
    channel: () =>
      new DataLoader<bigint, Channel | null, string>(
        async (ids) => byKey(ids, await prisma.channel.findMany({ where: { id: { in: [...ids] } } }), (c) => c.id),
        opts,
      ),
    workspace: () =>
      new DataLoader<bigint, Workspace | null, string>(
        async (ids) => byKey(ids, await prisma.workspace.findMany({ where: { id: { in: [...ids] } } }), (w) => w.id),
        opts,
      ),
    /** The viewer's own membership row per channel id. */
    myMembership: () =>
      new DataLoader<bigint, ChannelMember | null, string>(async (channelIds) => {
        if (!viewer) return channelIds.map(() => null);
        const rows = await prisma.channelMember.findMany({
          where: { userId: viewer.userId, channelId: { in: [...channelIds] } },
        });
        return byKey(channelIds, rows, (m) => m.channelId);
      }, opts),
    myRole: () =>
      new DataLoader<bigint, string | null, string>(async (workspaceIds) => {
        if (!viewer) return workspaceIds.map(() => null);
        const rows = await prisma.workspaceMember.findMany({
          where: { userId: viewer.userId, workspaceId: { in: [...workspaceIds] } },
        });
        return byKey(workspaceIds, rows, (m) => m.workspaceId).map((m) => m?.role ?? null);
      }, opts),
    reactions: () =>
      new DataLoader<bigint, ReactionSummary[], string>(async (messageIds) => {
        const rows = await prisma.reaction.findMany({
          where: { messageId: { in: [...messageIds] } },
          orderBy: [{ messageId: 'asc' }, { createdAt: 'asc' }],
        });
        return groupBy(messageIds, rows, (r) => r.messageId).map((list) => {
          const byEmoji = new Map<string, ReactionSummary>();
          for (const r of list) {
            let s = byEmoji.get(r.emoji);
            if (!s) byEmoji.set(r.emoji, (s = { emoji: r.emoji, count: 0, userIds: [] }));
            s.count += 1;
            s.userIds.push(r.userId);
          }
          return [...byEmoji.values()];
        });
      }, opts),
    mentions: () =>
      new DataLoader<bigint, MessageMention[], string>(async (messageIds) => {
        const rows = await prisma.messageMention.findMany({
          where: { messageId: { in: [...messageIds] } },
          orderBy: { id: 'asc' },
        });
        return groupBy(messageIds, rows, (r) => r.messageId);
      }, opts),
    files: () =>
      new DataLoader<bigint, File[], string>(async (messageIds) => {
        const rows = await prisma.messageFile.findMany({
          where: { messageId: { in: [...messageIds] } },
          include: { file: true },
        });
        return groupBy(messageIds, rows, (r) => r.messageId).map((list) => list.map((r) => r.file));
      }, opts),
    /** Shown (READY) unfurls per message id, any order (Message.unfurls orders them by the text). */
    unfurls: () =>
      new DataLoader<bigint, MessageUnfurl[], string>(async (messageIds) => {
        const rows = await prisma.messageUnfurl.findMany({
          where: { messageId: { in: [...messageIds] }, status: 'READY' },
        });
        return groupBy(messageIds, rows, (r) => r.messageId);
      }, opts),
  });
}

/**
 * Builds each loader on first use: a subscription event that renders one message needs one or two
 * loaders, not all of them (this is on the fan-out hot path).
 */
function lazily<F extends Record<string, () => unknown>>(factories: F): { [K in keyof F]: ReturnType<F[K]> } {
  const out = {} as { [K in keyof F]: ReturnType<F[K]> };
  for (const name of Object.keys(factories) as (keyof F)[]) {
    let value: ReturnType<F[typeof name]> | undefined;
    Object.defineProperty(out, name, {
      enumerable: true,
      get: () => (value ??= factories[name]!() as ReturnType<F[typeof name]>),
    });
  }
  return out;
}

export type Loaders = ReturnType<typeof createLoaders>;
