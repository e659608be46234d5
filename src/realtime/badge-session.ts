import type { ConnectionState } from './connection.js';
import type { NotificationLevelName } from '../domain/events/events.js';
import type { EventQueue } from './queue.js';

/** The state a badge session keeps: per-channel groups, per-member counts, and the session itself. */

export interface ChannelBadge {
  channelId: string;
  unreadCount: number;
  mentionCount: number;
}
export interface ThreadBadge {
  threadRootId: string;
  channelId: string;
  unreadCount: number;
  mentionCount: number;
}
export interface BadgeUpdate {
  channels: ChannelBadge[];
  threads: ThreadBadge[];
}

/** One member's counts in one channel (the channel's sequence lives in its group). */
export interface MemberState {
  /** The channel sequence when this state was loaded: events at or below it are already counted. */
  loadedSeq: bigint;
  lastReadSeq: bigint;
  mentionCount: number;
  level: NotificationLevelName;
  muted: boolean;
  /** The unread count the last frame for this channel said (null: none sent since loading). */
  reported: number | null;
}

/** Whether the member's sidebar shows this channel's unread state (bold, exact count): level ALL, not muted. */
export const showsUnread = (st: MemberState) => st.level === 'ALL' && !st.muted;

/** The member's unread count in a channel whose newest sequence is `seq`. */
export function unreadOf(seq: bigint, st: MemberState): number {
  const n = seq - st.lastReadSeq;
  return n > 0n ? Number(n) : 0;
}

export interface ThreadState {
  channelId: string;
  unread: number;
  /** Unread replies that count as a mention for this user (the mention rule). */
  mentions: number;
}

/**
 * Everything this process's badge sessions need from one channel: one topic listener for all of
 * them, the channel's newest sequence, and who is in it. A message costs O(1) here, plus the
 * members it changes something for: those who had read everything (their channel turns unread),
 * the mentioned ones (all of them only for @channel / @here), and everyone only in a DM. The exact
 * counts of everyone else are sent once the channel settles, or at a slow refresh (passive sessions).
 */
export class ChannelGroup {
  seq = 0n;
  /** A direct message or group DM: its count is shown, so every message is due. */
  direct = false;
  readonly sessions = new Set<BadgeSession>();
  /** Sessions by user: one session held as itself (a Set per user would cost each connection ~150 B). */
  private readonly byUser = new Map<string, BadgeSession | Set<BadgeSession>>();
  /** Sessions that had read everything: the next message turns the channel unread for them. */
  readonly caughtUp = new Set<BadgeSession>();
  /** When the last message arrived, and when the current run of traffic was last refreshed. */
  lastMessageAt = 0;
  refreshedAt = 0;
  /** Messages arrived since the exact counts were last sent. */
  stale = false;
  unlisten: () => void = () => {};
  ready: Promise<void> = Promise.resolve();

  constructor(readonly channelId: string) {}

  add(s: BadgeSession) {
    this.sessions.add(s);
    const v = this.byUser.get(s.userId);
    if (v === undefined) this.byUser.set(s.userId, s);
    else if (v instanceof Set) v.add(s);
    else if (v !== s) this.byUser.set(s.userId, new Set([v, s]));
  }

  remove(s: BadgeSession) {
    this.sessions.delete(s);
    this.caughtUp.delete(s);
    const v = this.byUser.get(s.userId);
    if (v === s) this.byUser.delete(s.userId);
    else if (v instanceof Set) {
      v.delete(s);
      if (v.size === 0) this.byUser.delete(s.userId);
    }
  }

  /** This user's sessions in the group. */
  sessionsOf(userId: string): readonly BadgeSession[] {
    const v = this.byUser.get(userId);
    return v === undefined ? NO_SESSIONS : v instanceof Set ? [...v] : [v];
  }
}

const NO_SESSIONS: readonly BadgeSession[] = [];
const NO_IDS: ReadonlySet<string> = new Set();

/**
 * One `badges` subscription: unread and mention counts of a user's channels and followed threads,
 * from a database snapshot plus the events after it, applying exactly the rules the send applies
 * to the database (domain/messages/mention-rule.ts), so the counts it reports equal the
 * database's. Frames are coalesced by the manager: at most one per flush window, listing only what
 * changed, never for what this connection is viewing.
 */
export class BadgeSession {
  readonly channels = new Map<string, MemberState>();
  readonly threads = new Map<string, ThreadState>();
  /** What changed since the last frame (made on first use: most sessions are idle most of the time). */
  pendingChannels: Set<string> | null = null;
  pendingThreads: Set<string> | null = null;
  unlistenUser: (() => void) | null = null;
  closed = false;

  constructor(
    readonly userId: string,
    readonly connection: ConnectionState,
    readonly queue: EventQueue<BadgeUpdate>,
    private readonly manager: Manager,
  ) {}

  touchChannel(channelId: string, always: boolean) {
    if (!always && this.connection.isViewingChannel(channelId)) return;
    (this.pendingChannels ??= new Set()).add(channelId);
    this.manager.markDirty(this);
  }

  touchThread(rootId: string) {
    if (this.connection.isViewingThread(rootId)) return;
    (this.pendingThreads ??= new Set()).add(rootId);
    this.manager.markDirty(this);
  }

  /** What changed since the last frame, or null. */
  takeUpdate(): BadgeUpdate | null {
    const pendingChannels = this.pendingChannels ?? NO_IDS;
    const pendingThreads = this.pendingThreads ?? NO_IDS;
    this.pendingChannels = null;
    this.pendingThreads = null;
    if (!pendingChannels.size && !pendingThreads.size) return null;
    const channels: ChannelBadge[] = [];
    for (const id of pendingChannels) {
      const st = this.channels.get(id);
      const group = this.manager.group(id);
      if (!st || !group) continue;
      const unreadCount = unreadOf(group.seq, st);
      st.reported = unreadCount;
      channels.push({ channelId: id, unreadCount, mentionCount: st.mentionCount });
    }
    const threads: ThreadBadge[] = [];
    for (const id of pendingThreads) {
      const th = this.threads.get(id);
      threads.push({
        threadRootId: id,
        channelId: th?.channelId ?? '',
        unreadCount: th?.unread ?? 0,
        mentionCount: th?.mentions ?? 0,
      });
    }
    return channels.length || threads.length ? { channels, threads } : null;
  }
}

export interface Manager {
  markDirty(s: BadgeSession): void;
  group(channelId: string): ChannelGroup | undefined;
}
