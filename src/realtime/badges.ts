import type { BadgesService } from '../domain/badges/badges.service.js';
import type { Logger } from '../logger.js';
import type { ConnectionState } from './connection.js';
import type { ChatEvent, EventOf, NotificationLevelName } from './events.js';
import type { Hub } from './hub.js';
import { EventQueue } from './queue.js';
import { topics } from './topics.js';

export interface ChannelBadge {
  channelId: string;
  unreadCount: number;
  mentionCount: number;
}
export interface ThreadBadge {
  threadRootId: string;
  channelId: string;
  unreadCount: number;
}
export interface BadgeUpdate {
  channels: ChannelBadge[];
  threads: ThreadBadge[];
}

interface ChannelState {
  /** Newest sequence seen (from the database at load, then from events). */
  seq: bigint;
  /** The channel sequence when this state was loaded: events at or below it are already counted. */
  loadedSeq: bigint;
  lastReadSeq: bigint;
  mentionCount: number;
  level: NotificationLevelName;
  muted: boolean;
  unlisten: () => void;
}

interface ThreadState {
  channelId: string;
  unread: number;
}

/**
 * One `badges` subscription: the unread and mention counts of a user's channels and followed
 * threads, kept in memory from the database snapshot plus the events that follow it, applying
 * exactly the rules the send transaction applies to the database (messages.service.ts), so the
 * counts it reports equal the database's. Changes are coalesced: the manager flushes each dirty
 * session at most once per window, listing only what changed, and never for what this
 * connection is viewing.
 */
class BadgeSession {
  readonly channels = new Map<string, ChannelState>();
  readonly threads = new Map<string, ThreadState>();
  private readonly pendingChannels = new Set<string>();
  private readonly pendingThreads = new Set<string>();
  private unlistenUser: (() => void) | null = null;
  closed = false;

  constructor(
    readonly userId: string,
    private readonly connection: ConnectionState,
    readonly queue: EventQueue<BadgeUpdate>,
    private readonly deps: { hub: Hub; badges: BadgesService; log: Logger; markDirty: (s: BadgeSession) => void },
  ) {}

  async start() {
    const onEvent = (e: ChatEvent) => this.onEvent(e);
    this.unlistenUser = await this.deps.hub.listen(topics.user(this.userId), onEvent, () => this.reload());
    const [rows, threads] = await Promise.all([
      this.deps.badges.channelState(BigInt(this.userId)),
      this.deps.badges.threadState(BigInt(this.userId)),
    ]);
    await Promise.all(rows.map((r) => this.addChannel(r)));
    for (const t of threads) this.threads.set(t.rootId.toString(), { channelId: t.channelId.toString(), unread: t.unreadCount });
  }

  private async addChannel(r: Awaited<ReturnType<BadgesService['channelState']>>[number]) {
    const channelId = r.channelId.toString();
    if (this.closed || this.channels.has(channelId)) return;
    const placeholder: ChannelState = {
      seq: r.lastSeq,
      loadedSeq: r.lastSeq,
      lastReadSeq: r.lastReadSeq,
      mentionCount: r.mentionCount,
      level: r.notificationLevel,
      muted: r.muted,
      unlisten: () => {},
    };
    this.channels.set(channelId, placeholder);
    const unlisten = await this.deps.hub.listen(
      topics.channel(channelId),
      (e) => this.onEvent(e),
      () => this.reload(channelId),
    );
    if (this.closed || this.channels.get(channelId) !== placeholder) unlisten();
    else placeholder.unlisten = unlisten;
  }

  /**
   * After a pub/sub gap (shard failover), events may be missing: take the counts from the
   * database again (one channel, or everything for a gap on the user's own topic).
   */
  reload(channelId?: string) {
    const load = async () => {
      const rows = await this.deps.badges.channelState(BigInt(this.userId), channelId ? BigInt(channelId) : undefined);
      for (const r of rows) {
        const id = r.channelId.toString();
        const st = this.channels.get(id);
        if (!st) {
          await this.addChannel(r);
          this.touchChannel(id, true);
          continue;
        }
        st.seq = r.lastSeq;
        st.loadedSeq = r.lastSeq;
        st.lastReadSeq = r.lastReadSeq;
        st.mentionCount = r.mentionCount;
        st.level = r.notificationLevel;
        st.muted = r.muted;
        this.touchChannel(id, true);
      }
      if (!channelId) {
        for (const t of await this.deps.badges.threadState(BigInt(this.userId))) {
          this.threads.set(t.rootId.toString(), { channelId: t.channelId.toString(), unread: t.unreadCount });
          this.touchThread(t.rootId.toString());
        }
      }
    };
    load().catch((err) => this.deps.log.warn({ err }, 'badge session could not reload after a gap'));
  }

  private removeChannel(channelId: string) {
    const st = this.channels.get(channelId);
    if (!st) return;
    st.unlisten();
    this.channels.delete(channelId);
    this.pendingChannels.delete(channelId);
  }

  onEvent(e: ChatEvent) {
    if (this.closed) return;
    switch (e.type) {
      case 'MessagePosted':
        return this.onPosted(e);
      case 'ChannelRead': {
        const st = this.channels.get(e.channelId);
        if (!st) return;
        st.lastReadSeq = BigInt(e.lastReadSeq);
        st.mentionCount = e.mentionCount;
        return this.touchChannel(e.channelId, true);
      }
      case 'MemberSettingsChanged': {
        const st = this.channels.get(e.channelId);
        if (!st) return;
        st.level = e.notificationLevel;
        st.muted = e.muted;
        return;
      }
      case 'ThreadFollowChanged':
        if (e.following) this.threads.set(e.rootId, { channelId: e.channelId, unread: e.unreadCount });
        else this.threads.delete(e.rootId);
        return this.touchThread(e.rootId);
      case 'ThreadRead': {
        const th = this.threads.get(e.rootId);
        if (!th) return;
        th.unread = 0;
        return this.touchThread(e.rootId);
      }
      case 'MembershipChanged':
        if (e.userId !== this.userId) return;
        if (e.joined) {
          this.deps.badges
            .channelState(BigInt(this.userId), BigInt(e.channelId))
            .then((rows) => Promise.all(rows.map((r) => this.addChannel(r))))
            .then(() => this.touchChannel(e.channelId, true))
            .catch((err) => this.deps.log.warn({ err }, 'badge session could not load a joined channel'));
        } else {
          this.removeChannel(e.channelId);
        }
        return;
      default:
        return;
    }
  }

  private onPosted(e: EventOf<'MessagePosted'>) {
    const me = this.userId;
    const own = e.authorId === me;
    if (e.listed && e.seq !== null) {
      const st = this.channels.get(e.channelId);
      if (st) {
        const seq = BigInt(e.seq);
        if (seq > st.seq) st.seq = seq;
        let mentioned = false;
        if (own) {
          if (seq > st.lastReadSeq) st.lastReadSeq = seq;
          st.mentionCount = 0;
        } else if (seq > st.loadedSeq && st.level !== 'NONE') {
          // @here counts for members online at send time; a user with a badge session is connected.
          mentioned = e.mentionedUserIds.includes(me) || (!st.muted && (e.mentionsChannel || e.mentionsHere));
          if (mentioned) st.mentionCount += 1;
        }
        const notify = own || mentioned || (st.level === 'ALL' && !st.muted);
        if (notify) this.touchChannel(e.channelId, false);
      }
    }
    if (e.threadRootId) {
      const rootId = e.threadRootId;
      let th = this.threads.get(rootId);
      if (!th && e.newFollowerIds.includes(me)) {
        this.threads.set(rootId, (th = { channelId: e.channelId, unread: own ? 0 : 1 }));
      } else if (th) {
        th.unread = own ? 0 : th.unread + 1;
      }
      if (th) this.touchThread(rootId);
    }
  }

  private touchChannel(channelId: string, always: boolean) {
    if (!always && this.connection.isViewingChannel(channelId)) return;
    this.pendingChannels.add(channelId);
    this.deps.markDirty(this);
  }

  private touchThread(rootId: string) {
    if (this.connection.isViewingThread(rootId)) return;
    this.pendingThreads.add(rootId);
    this.deps.markDirty(this);
  }

  /** What changed since the last frame, or null. */
  takeUpdate(): BadgeUpdate | null {
    if (!this.pendingChannels.size && !this.pendingThreads.size) return null;
    const channels: ChannelBadge[] = [];
    for (const id of this.pendingChannels) {
      const st = this.channels.get(id);
      if (!st) continue;
      const unread = st.seq - st.lastReadSeq;
      channels.push({ channelId: id, unreadCount: unread > 0n ? Number(unread) : 0, mentionCount: st.mentionCount });
    }
    const threads: ThreadBadge[] = [];
    for (const id of this.pendingThreads) {
      const th = this.threads.get(id);
      threads.push({ threadRootId: id, channelId: th?.channelId ?? '', unreadCount: th?.unread ?? 0 });
    }
    this.pendingChannels.clear();
    this.pendingThreads.clear();
    return channels.length || threads.length ? { channels, threads } : null;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.unlistenUser?.();
    for (const st of this.channels.values()) st.unlisten();
    this.channels.clear();
    this.threads.clear();
  }
}

export interface BadgeManagerOptions {
  flushMs: number;
  queueLimit: number;
}

/** Owns the badge sessions of this process and the flush timer that coalesces their frames. */
export function createBadgeManager(deps: { hub: Hub; badges: BadgesService; log: Logger }, opts: BadgeManagerOptions) {
  const sessions = new Set<BadgeSession>();
  const dirty = new Set<BadgeSession>();
  const markDirty = (s: BadgeSession) => dirty.add(s);

  const timer = setInterval(() => {
    if (!dirty.size) return;
    const batch = [...dirty];
    dirty.clear();
    for (const s of batch) {
      if (s.closed) continue;
      const update = s.takeUpdate();
      if (update) s.queue.push(update);
    }
  }, opts.flushMs);
  timer.unref();

  return {
    /** Starts a session for this user on this connection; the returned queue yields frames. */
    async open(userId: string, connection: ConnectionState): Promise<EventQueue<BadgeUpdate>> {
      const queue = new EventQueue<BadgeUpdate>(opts.queueLimit, () => connection.close(1013, 'slow consumer'));
      const session = new BadgeSession(userId, connection, queue, { ...deps, markDirty });
      sessions.add(session);
      queue.onClose(() => {
        session.close();
        sessions.delete(session);
        dirty.delete(session);
      });
      try {
        await session.start();
      } catch (err) {
        await queue.return();
        throw err;
      }
      return queue;
    },
    stats: () => ({ sessions: sessions.size, dirty: dirty.size }),
    close() {
      clearInterval(timer);
      for (const s of sessions) s.queue.return();
    },
  };
}

export type BadgeManager = ReturnType<typeof createBadgeManager>;
