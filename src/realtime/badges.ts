import type { ChannelBadgeRow, ThreadBadgeRow } from '../domain/badges/badges.service.js';
import { countsAsMention } from '../domain/messages/mention-rule.js';
import type { Logger } from '../logger.js';
import type { ConnectionState } from './connection.js';
import type { ChatEvent, EventOf } from '../domain/events/events.js';
import type { Hub } from './hub.js';
import { EventQueue } from './queue.js';
import { topics } from '../domain/events/topics.js';
import {
  BadgeSession,
  ChannelGroup,
  showsUnread,
  unreadOf,
  type BadgeUpdate,
  type Manager,
  type MemberState,
  type ThreadState,
} from './badge-session.js';

export type { BadgeUpdate, ChannelBadge, ThreadBadge } from './badge-session.js';

type ChannelRow = ChannelBadgeRow;

/** Where a badge session's counts start from (the domain's badges service). */
export interface BadgeCounts {
  /** The user's membership counts, in every channel or one. */
  channelState(userId: bigint, channelId?: bigint): Promise<ChannelBadgeRow[]>;
  /** The user's followed threads with their unread counts. */
  threadState(userId: bigint): Promise<ThreadBadgeRow[]>;
}

export interface BadgeManagerOptions {
  /** At most one frame per session per window. */
  flushMs: number;
  /** A channel quiet this long sends its exact unread counts to members not looking at it. */
  settleMs: number;
  /** During continuous traffic, those exact counts at most this often. */
  refreshMs: number;
  queueLimit: number;
  now?: () => number;
}

/** Owns this process's badge sessions, their channel groups, and the flush timer. */
export function createBadgeManager(deps: { hub: Hub; badges: BadgeCounts; log: Logger }, opts: BadgeManagerOptions) {
  const sessions = new Set<BadgeSession>();
  const dirtySessions = new Set<BadgeSession>();
  const groups = new Map<string, ChannelGroup>();
  /** Channels with messages whose exact counts have not been sent yet (settle / refresh pending). */
  const staleGroups = new Set<ChannelGroup>();
  const now = opts.now ?? Date.now;
  const followers = new Map<string, Set<BadgeSession>>(); // thread root -> following sessions

  const manager: Manager = {
    markDirty: (s) => dirtySessions.add(s),
    group: (id) => groups.get(id),
  };

  function follow(s: BadgeSession, rootId: string, state: ThreadState) {
    s.threads.set(rootId, state);
    let set = followers.get(rootId);
    if (!set) followers.set(rootId, (set = new Set()));
    set.add(s);
  }

  function unfollow(s: BadgeSession, rootId: string) {
    s.threads.delete(rootId);
    const set = followers.get(rootId);
    set?.delete(s);
    if (set && set.size === 0) followers.delete(rootId);
  }

  function memberState(r: ChannelRow): MemberState {
    return {
      loadedSeq: r.lastSeq,
      lastReadSeq: r.lastReadSeq,
      mentionCount: r.mentionCount,
      level: r.notificationLevel,
      muted: r.muted,
      reported: null,
    };
  }

  /** Tracks whether the session had read everything in the group (the next message turns it unread). */
  function trackCaughtUp(group: ChannelGroup, s: BadgeSession, st: MemberState) {
    if (st.lastReadSeq >= group.seq) group.caughtUp.add(s);
    else group.caughtUp.delete(s);
  }

  /** Puts a session in a channel's group (listening to the channel once per process). */
  async function join(s: BadgeSession, r: ChannelRow) {
    const channelId = r.channelId.toString();
    if (s.closed || s.channels.has(channelId)) return;
    s.channels.set(channelId, memberState(r));
    let group = groups.get(channelId);
    if (!group) {
      const g = new ChannelGroup(channelId);
      groups.set(channelId, g);
      g.ready = deps.hub
        .listen(
          topics.channel(channelId),
          (e) => onChannelEvent(g, e),
          () => reloadGroup(g),
        )
        .then((unlisten) => {
          if (groups.get(channelId) === g) g.unlisten = unlisten;
          else unlisten();
        });
      group = g;
    }
    if (r.lastSeq > group.seq) group.seq = r.lastSeq;
    group.direct = r.isDirect;
    group.add(s);
    trackCaughtUp(group, s, s.channels.get(channelId)!);
    await group.ready;
  }

  function leave(s: BadgeSession, channelId: string) {
    s.channels.delete(channelId);
    s.pendingChannels?.delete(channelId);
    const group = groups.get(channelId);
    if (!group) return;
    group.remove(s);
    if (group.sessions.size === 0) {
      groups.delete(channelId);
      staleGroups.delete(group);
      group.ready.then(
        () => group.unlisten(),
        () => {}, // listening failed: nothing to undo (the join that waited for it got the error)
      );
    }
  }

  function onChannelEvent(group: ChannelGroup, e: ChatEvent) {
    if (e.type !== 'MessagePosted') return;
    if (e.listed && e.seq !== null) onListed(group, e, BigInt(e.seq));
    if (e.threadRootId) onReply(group, e);
  }

  function onListed(group: ChannelGroup, e: EventOf<'MessagePosted'>, seq: bigint) {
    if (seq > group.seq) group.seq = seq;
    const id = group.channelId;
    // The author has read it (as the send transaction records): their other connections learn it.
    const authors = group.sessionsOf(e.authorId);
    for (const s of authors) {
      const st = s.channels.get(id)!;
      if (seq > st.lastReadSeq) st.lastReadSeq = seq;
      st.mentionCount = 0;
      s.touchChannel(id, true);
    }
    // Read → unread: due for those whose sidebar shows it (each member once per read cycle).
    for (const s of group.caughtUp) {
      if (authors.includes(s)) continue;
      const st = s.channels.get(id)!;
      if (st.lastReadSeq >= seq) continue;
      group.caughtUp.delete(s);
      if (showsUnread(st)) s.touchChannel(id, false);
    }
    // A DM's count is shown: every message is due (the group is a handful of people).
    if (group.direct) {
      for (const s of group.sessions) {
        const st = s.channels.get(id)!;
        if (!authors.includes(s) && st.level !== 'NONE' && !st.muted) s.touchChannel(id, false);
      }
    }
    // Mentions, by the one rule (domain/messages/mention-rule.ts). @here counts members online at
    // send time; a member with a badge session is connected, so counts as online.
    const broad = e.mentionsChannel || e.mentionsHere;
    const candidates = broad ? group.sessions : e.mentionedUserIds.flatMap((u) => group.sessionsOf(u));
    const facts = {
      authorId: e.authorId,
      userIds: e.mentionedUserIds,
      channel: e.mentionsChannel,
      here: e.mentionsHere,
      wasOnline: () => true,
    };
    for (const s of candidates) {
      const st = s.channels.get(id)!;
      if (seq <= st.loadedSeq) continue;
      if (countsAsMention({ userId: s.userId, level: st.level, muted: st.muted }, facts)) {
        st.mentionCount += 1;
        s.touchChannel(id, false);
      }
    }
    // Everyone else's exact count trails: sent when the channel settles, or at the next refresh.
    group.lastMessageAt = now();
    if (!group.stale) {
      group.stale = true;
      group.refreshedAt = group.lastMessageAt;
      staleGroups.add(group);
    }
  }

  function onReply(group: ChannelGroup, e: EventOf<'MessagePosted'>) {
    const rootId = e.threadRootId!;
    const already = followers.get(rootId) ?? new Set<BadgeSession>();
    // The thread mention count, by the one rule (as the send writes it for followers).
    const facts = {
      authorId: e.authorId,
      userIds: e.mentionedUserIds,
      channel: e.mentionsChannel,
      here: e.mentionsHere,
      wasOnline: () => true,
    };
    const mentions = (s: BadgeSession) => {
      const st = s.channels.get(group.channelId);
      return countsAsMention({ userId: s.userId, level: st?.level ?? 'ALL', muted: st?.muted ?? false }, facts);
    };
    for (const s of [...already]) {
      const th = s.threads.get(rootId)!;
      const mine = s.userId === e.authorId;
      th.unread = mine ? 0 : th.unread + 1;
      th.mentions = mine ? 0 : th.mentions + (mentions(s) ? 1 : 0);
      s.touchThread(rootId);
    }
    for (const userId of e.newFollowerIds) {
      for (const s of group.sessionsOf(userId)) {
        if (s.threads.has(rootId)) continue;
        const mine = userId === e.authorId;
        follow(s, rootId, {
          channelId: group.channelId,
          unread: mine ? 0 : 1,
          mentions: !mine && mentions(s) ? 1 : 0,
        });
        s.touchThread(rootId);
      }
    }
  }

  function reloadGroup(group: ChannelGroup) {
    for (const s of [...group.sessions]) reload(s, group.channelId);
  }

  /** After a pub/sub gap: counts from the database again (one channel, or all of the user's). */
  function reload(s: BadgeSession, channelId?: string) {
    const load = async () => {
      const rows = await deps.badges.channelState(BigInt(s.userId), channelId ? BigInt(channelId) : undefined);
      for (const r of rows) {
        const id = r.channelId.toString();
        if (!s.channels.has(id)) await join(s, r);
        else s.channels.set(id, memberState(r));
        const g = groups.get(id);
        if (g && r.lastSeq > g.seq) g.seq = r.lastSeq;
        if (g) trackCaughtUp(g, s, s.channels.get(id)!);
        s.touchChannel(id, true);
      }
      if (!channelId) {
        for (const t of await deps.badges.threadState(BigInt(s.userId))) {
          unfollow(s, t.rootId.toString());
          follow(s, t.rootId.toString(), {
            channelId: t.channelId.toString(),
            unread: t.unreadCount,
            mentions: t.mentionCount,
          });
          s.touchThread(t.rootId.toString());
        }
      }
    };
    load().catch((err) => deps.log.warn({ err }, 'badge session could not reload after a gap'));
  }

  /** Events on the user's own topic: reads, settings, follows, joins and leaves. */
  function onUserEvent(s: BadgeSession, e: ChatEvent) {
    if (s.closed) return;
    switch (e.type) {
      case 'ChannelRead': {
        const st = s.channels.get(e.channelId);
        if (!st) return;
        st.lastReadSeq = BigInt(e.lastReadSeq);
        st.mentionCount = e.mentionCount;
        const g = groups.get(e.channelId);
        if (g) trackCaughtUp(g, s, st);
        return s.touchChannel(e.channelId, true);
      }
      case 'MemberSettingsChanged': {
        const st = s.channels.get(e.channelId);
        if (!st) return;
        st.level = e.notificationLevel;
        st.muted = e.muted;
        return;
      }
      case 'ThreadFollowChanged':
        if (e.following) follow(s, e.rootId, { channelId: e.channelId, unread: e.unreadCount, mentions: 0 });
        else unfollow(s, e.rootId);
        return s.touchThread(e.rootId);
      case 'ThreadRead': {
        const th = s.threads.get(e.rootId);
        if (!th) return;
        th.unread = 0;
        th.mentions = 0;
        return s.touchThread(e.rootId);
      }
      case 'MembershipChanged':
        if (e.joined) {
          deps.badges
            .channelState(BigInt(s.userId), BigInt(e.channelId))
            .then(async (rows) => {
              for (const r of rows) await join(s, r);
              s.touchChannel(e.channelId, true);
            })
            .catch((err) => deps.log.warn({ err }, 'badge session could not load a joined channel'));
        } else {
          leave(s, e.channelId);
        }
        return;
      default:
        return;
    }
  }

  function close(s: BadgeSession) {
    if (s.closed) return;
    s.closed = true;
    s.unlistenUser?.();
    for (const id of [...s.channels.keys()]) leave(s, id);
    for (const id of [...s.threads.keys()]) unfollow(s, id);
    sessions.delete(s);
    dirtySessions.delete(s);
  }

  let framesSent = 0;
  const timer = setInterval(() => {
    // Passive sessions: exact unread counts trail. Once a channel has been quiet for settleMs
    // (or, while it keeps talking, every refreshMs), each member whose shown count is out of date
    // gets one frame. O(members) per channel per settle or refresh, never per message or window.
    const t = now();
    for (const group of staleGroups) {
      const settled = t - group.lastMessageAt >= opts.settleMs;
      if (!settled && t - group.refreshedAt < opts.refreshMs) continue;
      group.refreshedAt = t;
      if (settled) {
        group.stale = false;
        staleGroups.delete(group);
      }
      for (const s of group.sessions) {
        const st = s.channels.get(group.channelId)!;
        if (showsUnread(st) && st.reported !== unreadOf(group.seq, st)) s.touchChannel(group.channelId, false);
      }
    }
    if (!dirtySessions.size) return;
    const batch = [...dirtySessions];
    dirtySessions.clear();
    for (const s of batch) {
      if (s.closed) continue;
      const update = s.takeUpdate();
      if (update) {
        framesSent++;
        s.queue.push(update);
      }
    }
  }, opts.flushMs);
  timer.unref();

  return {
    /** Starts a session for this user on this connection; the returned queue yields frames. */
    async open(userId: string, connection: ConnectionState): Promise<EventQueue<BadgeUpdate>> {
      const queue = new EventQueue<BadgeUpdate>(opts.queueLimit, () => connection.close(1013, 'slow consumer'));
      const s = new BadgeSession(userId, connection, queue, manager);
      sessions.add(s);
      queue.onClose(() => close(s));
      try {
        s.unlistenUser = await deps.hub.listen(
          topics.user(userId),
          (e) => onUserEvent(s, e),
          () => reload(s),
        );
        const [rows, threads] = await Promise.all([
          deps.badges.channelState(BigInt(userId)),
          deps.badges.threadState(BigInt(userId)),
        ]);
        await Promise.all(rows.map((r) => join(s, r)));
        for (const t of threads)
          follow(s, t.rootId.toString(), {
            channelId: t.channelId.toString(),
            unread: t.unreadCount,
            mentions: t.mentionCount,
          });
      } catch (err) {
        await queue.return();
        throw err;
      }
      return queue;
    },
    stats: () => ({
      /** Badge frames sent since the process started (one per session per flush that changed something). */
      framesSent,
      sessions: sessions.size,
      dirty: dirtySessions.size,
      groups: groups.size,
      followedThreads: followers.size,
    }),
    close() {
      clearInterval(timer);
      for (const s of [...sessions]) void s.queue.return();
    },
  };
}

export type BadgeManager = ReturnType<typeof createBadgeManager>;
