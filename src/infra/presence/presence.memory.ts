import type { EventPublisher, PresenceStatusName } from '../../domain/events/events.js';
import type { ManualStatus, Presence, PresenceInfo, PresenceOptions } from './presence.port.js';

interface UserPresence {
  connections: number;
  manual: ManualStatus;
  lastActive: number;
  published: PresenceStatusName;
  offlineTimer: NodeJS.Timeout | null;
}

/**
 * Presence, never written to PostgreSQL. ONLINE while a user has a live connection and has been
 * active within `idleMs`; AWAY when idle or set so; DND when set so; OFFLINE once the last
 * connection has been closed for `offlineGraceMs`. Changes are published to the user's presence
 * topic only, so they reach only the clients that asked for that user.
 *
 * This is the single-process implementation (state in memory); the Redis ring keeps the same
 * state in the user's shard.
 */
export function createMemoryPresence(events: EventPublisher, opts: PresenceOptions): Presence {
  const now = opts.now ?? Date.now;
  const users = new Map<string, UserPresence>();
  const views = new Map<string, Map<string, number>>(); // target -> userId -> connections viewing

  function effective(u: UserPresence | undefined): PresenceStatusName {
    if (!u || (u.connections === 0 && !u.offlineTimer)) return 'OFFLINE';
    if (u.manual === 'DND') return 'DND';
    if (u.manual === 'AWAY') return 'AWAY';
    return now() - u.lastActive >= opts.idleMs ? 'AWAY' : 'ONLINE';
  }

  function info(userId: string, u: UserPresence | undefined): PresenceInfo {
    return { userId, status: effective(u), lastActiveAt: u ? new Date(u.lastActive).toISOString() : null };
  }

  function publishIfChanged(userId: string, u: UserPresence) {
    const status = effective(u);
    if (status === u.published) return;
    u.published = status;
    events.publish({ type: 'PresenceChanged', ...info(userId, u) });
  }

  function entry(userId: string): UserPresence {
    let u = users.get(userId);
    if (!u)
      users.set(
        userId,
        (u = { connections: 0, manual: 'AUTO', lastActive: now(), published: 'OFFLINE', offlineTimer: null }),
      );
    return u;
  }

  // Idle sweep: AUTO users with no activity for idleMs become AWAY.
  const sweep = setInterval(
    () => {
      for (const [userId, u] of users) publishIfChanged(userId, u);
    },
    Math.max(50, Math.min(15_000, Math.floor(opts.idleMs / 4))),
  );
  sweep.unref();

  return {
    kind: 'memory',
    connect(userId: string): Promise<void> {
      const u = entry(userId);
      u.connections += 1;
      u.lastActive = now();
      if (u.offlineTimer) {
        clearTimeout(u.offlineTimer);
        u.offlineTimer = null;
      }
      publishIfChanged(userId, u);
      return Promise.resolve();
    },

    disconnect(userId: string): Promise<void> {
      const u = users.get(userId);
      if (!u || u.connections === 0) return Promise.resolve();
      u.connections -= 1;
      if (u.connections > 0) return Promise.resolve();
      u.offlineTimer = setTimeout(() => {
        u.offlineTimer = null;
        if (u.connections > 0) return;
        publishIfChanged(userId, u);
        if (u.manual === 'AUTO') users.delete(userId); // DND/AWAY choices survive reconnects
      }, opts.offlineGraceMs);
      u.offlineTimer.unref();
      return Promise.resolve();
    },

    activity(userId: string) {
      const u = users.get(userId);
      if (!u) return;
      u.lastActive = now();
      if (u.published === 'AWAY' && u.manual === 'AUTO') publishIfChanged(userId, u);
    },

    setStatus(userId: string, manual: ManualStatus): Promise<PresenceInfo> {
      const u = entry(userId);
      u.manual = manual;
      if (manual === 'AUTO') u.lastActive = now();
      publishIfChanged(userId, u);
      return Promise.resolve(info(userId, u));
    },

    get(userIds: string[]): Promise<PresenceInfo[]> {
      return Promise.resolve(userIds.map((id) => info(id, users.get(id))));
    },

    onlineAmong(userIds: string[]): Promise<string[]> {
      return Promise.resolve(userIds.filter((id) => (users.get(id)?.connections ?? 0) > 0));
    },

    view(userId: string, _connId: string, target: string) {
      let byUser = views.get(target);
      if (!byUser) views.set(target, (byUser = new Map<string, number>()));
      byUser.set(userId, (byUser.get(userId) ?? 0) + 1);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const m = views.get(target);
        const n = (m?.get(userId) ?? 1) - 1;
        if (n > 0) m!.set(userId, n);
        else m?.delete(userId);
        if (m && m.size === 0) views.delete(target);
      };
    },

    viewingAmong(userIds: string[], target: string): Promise<string[]> {
      const m = views.get(target);
      return Promise.resolve(m ? userIds.filter((id) => m.has(id)) : []);
    },

    close() {
      clearInterval(sweep);
      views.clear();
      for (const u of users.values()) if (u.offlineTimer) clearTimeout(u.offlineTimer);
      users.clear();
    },
  };
}
