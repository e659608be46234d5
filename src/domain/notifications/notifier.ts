import type { Logger } from 'pino';
import type { PrismaClient } from '../../infra/db/database.js';
import type { PushDeviceTarget, PushMessage, PushOutcome, PushSender } from '../../infra/push/push.port.js';
import type { NotificationLevelName } from '../events/events.js';
import {
  DEFAULT_PREFS,
  decideNotification,
  type NotifyDecision,
  type NotifyMessage,
  type NotifyPrefs,
  type NotifyRecipient,
} from './notify-rule.js';

/**
 * The notification consumer of the outbox: for each `message.posted` row, decides who gets a push
 * (notify-rule.ts) and hands the pushes to the push port. Runs off the real-time path (in the
 * outbox worker, inline or in `npm run worker`).
 *
 *  - A message deleted before its turn notifies nobody (it is read again here, not taken from the payload).
 *  - Recipients are current members of the channel, so a payload never reaches someone who may
 *    not read the message; it carries a title, a trimmed preview and ids.
 *  - Only users with a push device (or an email digest setting) are considered at all.
 *  - Each (message, device) is pushed at most once: accepted pushes go to `push_deliveries`,
 *    and a retried batch skips them. A device the provider calls gone is removed. When a provider
 *    asks to retry, the whole row is retried by the outbox with back-off.
 */

/** What the consumer needs from presence (any connection, any process). */
export interface NotifyPresence {
  /** Last activity (epoch ms) and a DND set by hand, per user. */
  facts(userIds: string[]): Promise<Map<string, { lastActiveAt: number | null; dnd: boolean }>>;
  /** Users among these viewing the target (`c:<channelId>` / `t:<rootId>`). */
  viewingAmong(userIds: string[], target: string): Promise<string[]>;
}

export interface NotifierDeps {
  prisma: PrismaClient;
  presence: NotifyPresence;
  push: PushSender;
  log: Logger;
  /** NOTIFY_ACTIVE_SUPPRESS_S in ms. */
  activeSuppressMs: number;
  /** Record email-digest items (when email is configured). */
  recordEmail?: boolean;
  /** Pushes in flight at once. */
  concurrency?: number;
  now?: () => number;
}

export interface NotifyOutcome {
  messageId: string;
  decisions: Map<string, NotifyDecision>;
  sent: number;
  gone: number;
  rejected: number;
  retry: number;
  skippedDelivered: number;
}

interface MessageRow {
  id: bigint;
  channel_id: bigint;
  author_id: bigint;
  text: string;
  thread_root_id: bigint | null;
  listed: boolean;
  kind: string;
  channel_name: string;
  author_name: string;
}

interface CandidateRow {
  user_id: bigint;
  level: NotificationLevelName;
  muted: boolean;
  push_level: NotificationLevelName | null;
  user_push_level: NotificationLevelName | null;
  email_after_minutes: number | null;
  dnd_start_minute: number | null;
  dnd_end_minute: number | null;
  snooze_until: Date | null;
  time_zone: string | null;
  follows: boolean;
}

export class NotifyRetryError extends Error {
  override name = 'NotifyRetryError';
}

const PREVIEW_CHARS = 140;

/** The preview a push shows: mention tokens in words, whitespace folded, trimmed. */
export function previewOf(text: string): string {
  const plain = text
    .replace(/<@\d+>/g, '@someone')
    .replace(/<!(channel|here)>/g, '@$1')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = [...plain];
  return chars.length > PREVIEW_CHARS ? `${chars.slice(0, PREVIEW_CHARS - 1).join('')}…` : plain;
}

export function createNotifier(deps: NotifierDeps) {
  const { prisma, presence, push, log } = deps;
  const now = deps.now ?? Date.now;
  const concurrency = deps.concurrency ?? 64;

  async function loadMessage(messageId: bigint) {
    const [m] = await prisma.$queryRaw<MessageRow[]>`
      SELECT m.id, m.channel_id, m.author_id, m.text, m.thread_root_id, m.listed, c.kind::text AS kind,
             c.name AS channel_name, u.name AS author_name
      FROM messages m JOIN channels c ON c.id = m.channel_id JOIN users u ON u.id = m.author_id
      WHERE m.id = ${messageId} AND m.deleted_at IS NULL`;
    if (!m) return null;
    const mentions = await prisma.messageMention.findMany({
      where: { messageId },
      select: { kind: true, userId: true, recipients: true },
    });
    const here = mentions.find((x) => x.kind === 'HERE');
    const hereOnline = new Set((here?.recipients ?? []).map(String));
    const facts: NotifyMessage = {
      authorId: m.author_id.toString(),
      userIds: mentions.filter((x) => x.kind === 'USER' && x.userId !== null).map((x) => x.userId!.toString()),
      channel: mentions.some((x) => x.kind === 'CHANNEL'),
      here: here !== undefined,
      wasOnline: (u) => hereOnline.has(u),
      direct: m.kind === 'DIRECT',
      threadRootId: m.thread_root_id?.toString() ?? null,
      listed: m.listed,
    };
    return { m, facts };
  }

  /** Members who could be notified at all: those with a device or an email digest. */
  async function candidates(m: MessageRow): Promise<CandidateRow[]> {
    return prisma.$queryRaw<CandidateRow[]>`
      SELECT cm.user_id, cm.notification_level::text AS level, cm.muted, cm.push_level::text AS push_level,
             np.push_level::text AS user_push_level, np.email_after_minutes, np.dnd_start_minute, np.dnd_end_minute,
             np.snooze_until, np.time_zone, (tf.user_id IS NOT NULL) AS follows
      FROM channel_members cm
      LEFT JOIN notification_preferences np ON np.user_id = cm.user_id
      LEFT JOIN thread_followers tf ON tf.root_id = ${m.thread_root_id ?? 0n} AND tf.user_id = cm.user_id
      WHERE cm.channel_id = ${m.channel_id} AND cm.user_id <> ${m.author_id}
        AND (${m.listed} OR tf.user_id IS NOT NULL)
        AND (np.email_after_minutes IS NOT NULL OR EXISTS (SELECT 1 FROM push_devices d WHERE d.user_id = cm.user_id))`;
  }

  function prefsOf(r: CandidateRow): NotifyPrefs {
    return {
      pushLevel: r.user_push_level ?? DEFAULT_PREFS.pushLevel,
      emailAfterMinutes: r.email_after_minutes,
      dndStartMinute: r.dnd_start_minute,
      dndEndMinute: r.dnd_end_minute,
      snoozeUntil: r.snooze_until ? r.snooze_until.getTime() : null,
      timeZone: r.time_zone ?? DEFAULT_PREFS.timeZone,
    };
  }

  /** Decisions for every candidate of one message (presence asked only for those a push could reach). */
  async function decide(m: MessageRow, facts: NotifyMessage) {
    const rows = await candidates(m);
    const t = now();
    const opts = { now: t, activeSuppressMs: deps.activeSuppressMs };
    const recipients = new Map<string, NotifyRecipient>();
    for (const r of rows) {
      const userId = r.user_id.toString();
      const rec: NotifyRecipient = {
        member: { userId, level: r.level, muted: r.muted, pushLevel: r.push_level },
        prefs: prefsOf(r),
        followsThread: r.follows,
        viewing: false,
        lastActiveAt: null,
        presenceDnd: false,
      };
      // Without presence: if even this pushes and emails nothing, presence cannot change that.
      const bare = decideNotification(facts, rec, opts);
      if (bare.push || bare.email) recipients.set(userId, rec);
    }
    const ids = [...recipients.keys()];
    if (ids.length) {
      const targets = [
        ...(facts.listed ? [`c:${m.channel_id}`] : []),
        ...(facts.threadRootId ? [`t:${facts.threadRootId}`] : []),
      ];
      const [p, ...viewing] = await Promise.all([
        presence.facts(ids),
        ...targets.map((target) => presence.viewingAmong(ids, target)),
      ]);
      for (const v of viewing) for (const id of v) recipients.get(id)!.viewing = true;
      for (const [id, f] of p) {
        const rec = recipients.get(id);
        if (!rec) continue;
        rec.lastActiveAt = f.lastActiveAt;
        rec.presenceDnd = f.dnd;
      }
    }
    const decisions = new Map<string, NotifyDecision>();
    for (const [id, rec] of recipients) decisions.set(id, decideNotification(facts, rec, opts));
    return decisions;
  }

  function messageFor(m: MessageRow, d: NotifyDecision): PushMessage {
    const where = m.kind === 'DIRECT' ? m.author_name : `#${m.channel_name}`;
    return {
      title: m.thread_root_id ? `Thread in ${where}` : where,
      body: m.kind === 'DIRECT' ? previewOf(m.text) : `${m.author_name}: ${previewOf(m.text)}`,
      channelId: m.channel_id.toString(),
      messageId: m.id.toString(),
      threadRootId: m.thread_root_id?.toString() ?? null,
      reason: d.reason ?? '',
    };
  }

  /** Pushes to every device of the users to push, at most once per (message, device). */
  async function deliver(m: MessageRow, decisions: Map<string, NotifyDecision>, out: NotifyOutcome) {
    const userIds = [...decisions].filter(([, d]) => d.push).map(([id]) => BigInt(id));
    if (!userIds.length) return;
    const devices = await prisma.$queryRaw<(PushDeviceTarget & { user_id: bigint; delivered: boolean })[]>`
      SELECT d.id, d.user_id, d.platform::text AS platform, d.token, d.p256dh, d.auth,
             EXISTS (SELECT 1 FROM push_deliveries pd WHERE pd.message_id = ${m.id} AND pd.device_id = d.id) AS delivered
      FROM push_devices d WHERE d.user_id = ANY(${userIds}::bigint[])`;
    const todo = devices.filter((d) => !d.delivered);
    out.skippedDelivered += devices.length - todo.length;
    const sent: bigint[] = [];
    const gone: bigint[] = [];
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const d = todo[next++]!;
        let outcome: PushOutcome;
        try {
          outcome = await push.send(d, messageFor(m, decisions.get(d.user_id.toString())!), `${m.id}:${d.id}`);
        } catch (err) {
          log.warn({ err, deviceId: d.id.toString() }, 'push sender threw; will retry');
          outcome = 'retry';
        }
        out[outcome] += 1;
        if (outcome === 'sent') sent.push(d.id);
        if (outcome === 'gone') gone.push(d.id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
    for (let i = 0; i < sent.length; i += 5_000) {
      const chunk = sent.slice(i, i + 5_000);
      await prisma.$executeRaw`
        INSERT INTO push_deliveries (message_id, device_id) SELECT ${m.id}, d FROM unnest(${chunk}::bigint[]) AS d
        ON CONFLICT DO NOTHING`;
    }
    if (gone.length) await prisma.pushDevice.deleteMany({ where: { id: { in: gone } } });
  }

  /** Decides and delivers one message's notifications. */
  async function notifyMessage(messageId: bigint): Promise<NotifyOutcome | null> {
    const loaded = await loadMessage(messageId);
    if (!loaded) return null;
    const decisions = await decide(loaded.m, loaded.facts);
    const out: NotifyOutcome = {
      messageId: messageId.toString(),
      decisions,
      sent: 0,
      gone: 0,
      rejected: 0,
      retry: 0,
      skippedDelivered: 0,
    };
    await deliver(loaded.m, decisions, out);
    if (deps.recordEmail) {
      const emailTo = [...decisions].filter(([, d]) => d.email).map(([id]) => BigInt(id));
      if (emailTo.length)
        await prisma.$executeRaw`
          INSERT INTO email_digest_items (user_id, message_id)
          SELECT u, ${messageId} FROM unnest(${emailTo}::bigint[]) AS u ON CONFLICT DO NOTHING`;
    }
    return out;
  }

  return {
    notifyMessage,
    /** The outbox handler for `message.posted`: throws (the outbox retries with back-off) when a provider asked to retry. */
    async handle(events: { aggregateId: bigint; kind: string }[]): Promise<void> {
      let retry = 0;
      for (const e of events) {
        if (e.kind !== 'message.posted') continue;
        const r = await notifyMessage(e.aggregateId);
        if (r) {
          retry += r.retry;
          if (r.sent || r.gone || r.retry)
            log.debug(
              { messageId: r.messageId, sent: r.sent, gone: r.gone, rejected: r.rejected, retry: r.retry },
              'notifications',
            );
        }
      }
      if (retry) throw new NotifyRetryError(`${retry} push(es) to retry`);
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;

/** The consumer's view of the presence port. */
export function notifyPresenceOf(p: {
  get(userIds: string[]): Promise<{ userId: string; status: string; lastActiveAt: string | null }[]>;
  viewingAmong(userIds: string[], target: string): Promise<string[]>;
}): NotifyPresence {
  return {
    async facts(userIds) {
      const out = new Map<string, { lastActiveAt: number | null; dnd: boolean }>();
      for (const i of await p.get(userIds))
        out.set(i.userId, {
          lastActiveAt: i.lastActiveAt && i.status !== 'OFFLINE' ? Date.parse(i.lastActiveAt) : null,
          dnd: i.status === 'DND',
        });
      return out;
    },
    viewingAmong: (userIds, target) => p.viewingAmong(userIds, target),
  };
}
