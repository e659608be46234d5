import DataLoader from 'dataloader';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Viewer } from '../domain/viewer.js';
import type { PageJoins } from '../domain/messages/page-joins.js';
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
 *
 * Each loader is built on first use: a subscription event that renders one message needs one or
 * two loaders, not all of them (this is on the fan-out hot path), and every live subscription
 * holds a context, so an unused set of loaders must cost a handful of bytes: a class whose getters
 * live on the prototype, not closures per instance.
 */
export class Loaders {
  private _user?: DataLoader<bigint, User | null, string>;
  private _message?: DataLoader<bigint, Message | null, string>;
  private _channel?: DataLoader<bigint, Channel | null, string>;
  private _workspace?: DataLoader<bigint, Workspace | null, string>;
  private _myMembership?: DataLoader<bigint, ChannelMember | null, string>;
  private _myRole?: DataLoader<bigint, string | null, string>;
  private _reactions?: DataLoader<bigint, ReactionSummary[], string>;
  private _mentions?: DataLoader<bigint, MessageMention[], string>;
  private _files?: DataLoader<bigint, File[], string>;
  private _unfurls?: DataLoader<bigint, MessageUnfurl[], string>;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly viewer: Viewer | null,
    private readonly shared: LoaderShared,
  ) {}

  get user() {
    return (this._user ??= new DataLoader(async (ids) => {
      // Never load password hashes for display.
      if (this.shared.profiles) return (await this.shared.profiles(ids)) as (User | null)[];
      const rows = await this.prisma.user.findMany({ where: { id: { in: [...ids] } }, omit: { passwordHash: true } });
      return byKey(ids, rows as User[], (u) => u.id);
    }, OPTS));
  }

  get message() {
    return (this._message ??= new DataLoader(
      async (ids) => byKey(ids, await this.prisma.message.findMany({ where: { id: { in: [...ids] } } }), (m) => m.id),
      OPTS,
    ));
  }

  get channel() {
    return (this._channel ??= new DataLoader(
      async (ids) => byKey(ids, await this.prisma.channel.findMany({ where: { id: { in: [...ids] } } }), (c) => c.id),
      OPTS,
    ));
  }

  get workspace() {
    return (this._workspace ??= new DataLoader(
      async (ids) => byKey(ids, await this.prisma.workspace.findMany({ where: { id: { in: [...ids] } } }), (w) => w.id),
      OPTS,
    ));
  }

  /** The viewer's own membership row per channel id. */
  get myMembership() {
    return (this._myMembership ??= new DataLoader(async (channelIds) => {
      const viewer = this.viewer;
      if (!viewer) return channelIds.map(() => null);
      const rows = await this.prisma.channelMember.findMany({
        where: { userId: viewer.userId, channelId: { in: [...channelIds] } },
      });
      return byKey(channelIds, rows, (m) => m.channelId);
    }, OPTS));
  }

  get myRole() {
    return (this._myRole ??= new DataLoader(async (workspaceIds) => {
      const viewer = this.viewer;
      if (!viewer) return workspaceIds.map(() => null);
      const rows = await this.prisma.workspaceMember.findMany({
        where: { userId: viewer.userId, workspaceId: { in: [...workspaceIds] } },
      });
      return byKey(workspaceIds, rows, (m) => m.workspaceId).map((m) => m?.role ?? null);
    }, OPTS));
  }

  get reactions() {
    return (this._reactions ??= new DataLoader(async (messageIds) => {
      const rows = this.shared.joins
        ? await this.shared.joins.reactions(messageIds)
        : await this.prisma.reaction.findMany({
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
    }, OPTS));
  }

  get mentions() {
    return (this._mentions ??= new DataLoader(async (messageIds) => {
      const rows = this.shared.joins
        ? await this.shared.joins.mentions(messageIds)
        : await this.prisma.messageMention.findMany({
            where: { messageId: { in: [...messageIds] } },
            orderBy: { id: 'asc' },
          });
      return groupBy(messageIds, rows, (r) => r.messageId);
    }, OPTS));
  }

  get files() {
    return (this._files ??= new DataLoader(async (messageIds) => {
      const rows = await this.prisma.messageFile.findMany({
        where: { messageId: { in: [...messageIds] } },
        include: { file: true },
      });
      return groupBy(messageIds, rows, (r) => r.messageId).map((list) => list.map((r) => r.file));
    }, OPTS));
  }

  /** Shown (READY) unfurls per message id, any order (Message.unfurls orders them by the text). */
  get unfurls() {
    return (this._unfurls ??= new DataLoader(async (messageIds) => {
      const rows = await this.prisma.messageUnfurl.findMany({
        where: { messageId: { in: [...messageIds] }, status: 'READY' },
      });
      return groupBy(messageIds, rows, (r) => r.messageId);
    }, OPTS));
  }
}

/** What every request's loaders share (made once per process: each live subscription holds loaders). */
export interface LoaderShared {
  /** Process-wide profile reads (cached briefly, batched across requests): users.profiles. */
  profiles?(ids: readonly bigint[]): Promise<(Omit<User, 'passwordHash'> | null)[]>;
  /** A page's reactions and mentions through the hot statements' way (without: Prisma's model queries). */
  joins?: PageJoins;
}

const OPTS = { cacheKeyFn: key };

export function createLoaders(prisma: PrismaClient, viewer: Viewer | null, shared: LoaderShared = {}): Loaders {
  return new Loaders(prisma, viewer, shared);
}
