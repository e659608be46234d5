import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import type { EventPublisher, PresenceStatusName } from '../../domain/events/events.js';
import type { ManualStatus, Presence, PresenceInfo, PresenceOptions } from './presence.port.js';

/** Connections are leases: a gateway that dies stops renewing, and its connections expire. */
const CONN_TTL_MS = 30_000;
const RENEW_MS = 10_000;
const ACTIVITY_WRITE_MS = 5_000;
const STATE_TTL_S = 7 * 86_400;

interface State {
  connections: number;
  manual: ManualStatus;
  lastActive: number | null;
  lastSeen: number | null;
  published: PresenceStatusName;
}

/**
 * Presence across gateways, kept in each user's Redis shard (the ring routes by user id):
 * `presence:{id}:conns`, a sorted set of live connection leases scored by expiry, and
 * `presence:{id}`, a hash of the user's choice (AUTO/AWAY/DND), last activity, last disconnect
 * and the last status published. Keys expire; nothing goes to PostgreSQL.
 */
export function createRedisPresence(
  clientFor: (userId: string) => Redis | null,
  events: EventPublisher,
  log: Logger,
  opts: PresenceOptions & { gatewayId: string },
): Presence {
  const now = opts.now ?? Date.now;
  const local = new Map<string, Set<string>>(); // userId -> local connection ids
  const graceTimers = new Map<string, NodeJS.Timeout>();
  const lastActivityWrite = new Map<string, number>();
  const localViews = new Map<string, Map<string, number>>(); // userId -> view member -> count
  const connKey = (id: string) => `presence:${id}:conns`;
  /** What the user's connections look at: a sorted set of `target|gateway:conn` leases scored by expiry. */
  const viewKey = (id: string) => `presence:${id}:views`;
  const stateKey = (id: string) => `presence:${id}`;
  const member = (connId: string) => `${opts.gatewayId}:${connId}`;

  const client = (userId: string) => {
    const c = clientFor(userId);
    if (!c) throw new Error('no live redis shard for presence');
    return c;
  };

  async function read(userId: string): Promise<State> {
    const c = client(userId);
    const [[, count], [, h]] = (await c
      .multi()
      .zcount(connKey(userId), now(), '+inf')
      .hgetall(stateKey(userId))
      .exec()) as [[unknown, number], [unknown, Record<string, string>]];
    return {
      connections: count,
      manual: (h['manual'] as ManualStatus) ?? 'AUTO',
      lastActive: h['lastActive'] ? Number(h['lastActive']) : null,
      lastSeen: h['lastSeen'] ? Number(h['lastSeen']) : null,
      published: (h['published'] as PresenceStatusName) ?? 'OFFLINE',
    };
  }

  function effective(s: State): PresenceStatusName {
    if (s.connections === 0) {
      // Within the grace period after the last disconnect, keep what was shown.
      if (s.lastSeen !== null && now() - s.lastSeen < opts.offlineGraceMs && s.published !== 'OFFLINE')
        return s.published;
      return 'OFFLINE';
    }
    if (s.manual === 'DND') return 'DND';
    if (s.manual === 'AWAY') return 'AWAY';
    return s.lastActive !== null && now() - s.lastActive >= opts.idleMs ? 'AWAY' : 'ONLINE';
  }

  const info = (userId: string, s: State): PresenceInfo => ({
    userId,
    status: effective(s),
    lastActiveAt: s.lastActive !== null ? new Date(s.lastActive).toISOString() : null,
  });

  async function publishIfChanged(userId: string): Promise<PresenceInfo> {
    const s = await read(userId);
    const p = info(userId, s);
    if (p.status !== s.published) {
      await client(userId).hset(stateKey(userId), 'published', p.status);
      events.publish({ type: 'PresenceChanged', ...p });
    }
    return p;
  }

  const renew = setInterval(() => {
    for (const [userId, conns] of local) {
      const c = clientFor(userId);
      if (!c) continue;
      const expiry = now() + CONN_TTL_MS;
      const m = c.multi();
      for (const id of conns) m.zadd(connKey(userId), expiry, member(id));
      m.pexpire(connKey(userId), CONN_TTL_MS).zremrangebyscore(connKey(userId), '-inf', now());
      const viewing = localViews.get(userId);
      if (viewing) {
        for (const v of viewing.keys()) m.zadd(viewKey(userId), expiry, v);
        m.pexpire(viewKey(userId), CONN_TTL_MS).zremrangebyscore(viewKey(userId), '-inf', now());
      }
      m.exec().catch((err) => log.debug({ err: (err as Error).message }, 'presence renew failed'));
    }
  }, RENEW_MS);
  renew.unref();

  // Idle sweep over users connected here: AUTO users idle for idleMs become AWAY.
  const sweep = setInterval(
    () => {
      for (const userId of local.keys()) publishIfChanged(userId).catch(() => {});
    },
    Math.max(50, Math.min(15_000, Math.floor(opts.idleMs / 4))),
  );
  sweep.unref();

  return {
    kind: 'redis',
    async connect(userId, connId) {
      let conns = local.get(userId);
      if (!conns) local.set(userId, (conns = new Set()));
      conns.add(connId);
      const t = graceTimers.get(userId);
      if (t) {
        clearTimeout(t);
        graceTimers.delete(userId);
      }
      await client(userId)
        .multi()
        .zadd(connKey(userId), now() + CONN_TTL_MS, member(connId))
        .pexpire(connKey(userId), CONN_TTL_MS)
        .hset(stateKey(userId), 'lastActive', now())
        .expire(stateKey(userId), STATE_TTL_S)
        .exec();
      await publishIfChanged(userId);
    },

    async disconnect(userId, connId) {
      const conns = local.get(userId);
      conns?.delete(connId);
      if (conns && conns.size === 0) local.delete(userId);
      await client(userId)
        .multi()
        .zrem(connKey(userId), member(connId))
        .hset(stateKey(userId), 'lastSeen', now())
        .exec();
      const t = setTimeout(() => {
        graceTimers.delete(userId);
        publishIfChanged(userId).catch((err) =>
          log.debug({ err: (err as Error).message }, 'presence offline publish failed'),
        );
      }, opts.offlineGraceMs + 20);
      t.unref();
      graceTimers.set(userId, t);
    },

    activity(userId) {
      const last = lastActivityWrite.get(userId) ?? 0;
      if (now() - last < ACTIVITY_WRITE_MS || !local.has(userId)) return;
      lastActivityWrite.set(userId, now());
      const c = clientFor(userId);
      if (!c) return;
      c.hset(stateKey(userId), 'lastActive', now())
        .then(() => publishIfChanged(userId))
        .catch(() => {});
    },

    async setStatus(userId, manual) {
      await client(userId)
        .multi()
        .hset(stateKey(userId), 'manual', manual, 'lastActive', now())
        .expire(stateKey(userId), STATE_TTL_S)
        .exec();
      return publishIfChanged(userId);
    },

    async get(userIds) {
      return Promise.all(userIds.map(async (id) => info(id, await read(id))));
    },

    async onlineAmong(userIds) {
      const counts = await Promise.all(
        userIds.map(async (id) => {
          const c = clientFor(id);
          return c ? c.zcount(connKey(id), now(), '+inf').catch(() => 0) : 0;
        }),
      );
      return userIds.filter((_, i) => counts[i]! > 0);
    },

    view(userId, connId, target) {
      const v = `${target}|${member(connId)}`;
      let mine = localViews.get(userId);
      if (!mine) localViews.set(userId, (mine = new Map<string, number>()));
      mine.set(v, (mine.get(v) ?? 0) + 1);
      const fail = (err: unknown) => log.debug({ err: (err as Error).message }, 'presence view write failed');
      clientFor(userId)
        ?.multi()
        .zadd(viewKey(userId), now() + CONN_TTL_MS, v)
        .pexpire(viewKey(userId), CONN_TTL_MS)
        .exec()
        .catch(fail);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const m = localViews.get(userId);
        const n = (m?.get(v) ?? 1) - 1;
        if (n > 0) return void m!.set(v, n);
        m?.delete(v);
        if (m && m.size === 0) localViews.delete(userId);
        clientFor(userId)?.zrem(viewKey(userId), v).catch(fail);
      };
    },

    async viewingAmong(userIds, target) {
      const prefix = `${target}|`;
      const found = await Promise.all(
        userIds.map(async (id) => {
          const c = clientFor(id);
          if (!c) return false;
          const live = await c.zrangebyscore(viewKey(id), now(), '+inf').catch(() => [] as string[]);
          return live.some((v) => v.startsWith(prefix));
        }),
      );
      return userIds.filter((_, i) => found[i]);
    },

    close() {
      clearInterval(renew);
      clearInterval(sweep);
      for (const t of graceTimers.values()) clearTimeout(t);
      graceTimers.clear();
    },
  };
}
