import type { Logger } from 'pino';
import type { PrismaClient } from '../../infra/db/database.js';
import type { Mailer } from '../../infra/mail/mail.port.js';
import { previewOf } from './notifier.js';

/**
 * Email digests of unread mentions and DMs. The notification consumer records the messages a
 * user's rule makes eligible (`email_digest_items`); a digest run then emails each user whose oldest
 * waiting item is older than their `emailAfterMinutes` and who is not online and has not been active
 * for that long: ONE email per user per run, listing what is still unread and still visible to
 * them (a message read, deleted, or in a channel they left meanwhile is left out), and the items
 * are deleted. Runs every EMAIL_DIGEST_INTERVAL_S where the outbox consumers run.
 */
export interface DigestPresence {
  onlineAmong(userIds: string[]): Promise<string[]>;
  get(userIds: string[]): Promise<{ userId: string; lastActiveAt: string | null }[]>;
}

interface DueRow {
  user_id: bigint;
  email: string;
  name: string;
  email_after_minutes: number;
}

interface ItemRow {
  id: bigint;
  text: string;
  kind: string;
  channel_name: string;
  author_name: string;
  thread_root_id: bigint | null;
}

const MAX_ITEMS = 50;

export function createDigests(deps: {
  prisma: PrismaClient;
  presence: DigestPresence;
  mailer: Mailer;
  log: Logger;
  intervalMs: number;
}) {
  const { prisma, presence, mailer, log } = deps;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;

  /** One digest run as of `now`; returns how many emails were sent. */
  async function runOnce(now = Date.now()): Promise<number> {
    const at = new Date(now);
    const due = await prisma.$queryRaw<DueRow[]>`
      SELECT i.user_id, u.email, u.name, np.email_after_minutes
      FROM email_digest_items i
      JOIN notification_preferences np ON np.user_id = i.user_id AND np.email_after_minutes IS NOT NULL
      JOIN users u ON u.id = i.user_id AND u.email IS NOT NULL
      GROUP BY i.user_id, u.email, u.name, np.email_after_minutes
      HAVING min(i.created_at) <= ${at}::timestamptz - np.email_after_minutes * interval '1 minute'
      LIMIT 500`;
    if (!due.length) return 0;
    const ids = due.map((d) => d.user_id.toString());
    const [online, info] = await Promise.all([presence.onlineAmong(ids), presence.get(ids)]);
    const onlineSet = new Set(online);
    const lastActive = new Map(info.map((i) => [i.userId, i.lastActiveAt ? Date.parse(i.lastActiveAt) : null]));
    let sent = 0;
    for (const d of due) {
      const id = d.user_id.toString();
      const active = lastActive.get(id);
      if (onlineSet.has(id) || (active != null && now - active < d.email_after_minutes * 60_000)) continue;
      const items = await prisma.$queryRaw<ItemRow[]>`
        SELECT m.id, m.text, c.kind::text AS kind, c.name AS channel_name, a.name AS author_name, m.thread_root_id
        FROM email_digest_items i
        JOIN messages m ON m.id = i.message_id AND m.deleted_at IS NULL
        JOIN channels c ON c.id = m.channel_id
        JOIN channel_members cm ON cm.channel_id = m.channel_id AND cm.user_id = i.user_id
        JOIN users a ON a.id = m.author_id
        LEFT JOIN thread_followers tf ON tf.root_id = m.thread_root_id AND tf.user_id = i.user_id
        WHERE i.user_id = ${d.user_id} AND i.created_at <= ${at}::timestamptz
          AND ((m.seq IS NOT NULL AND m.seq > cm.last_read_seq) OR (m.seq IS NULL AND tf.unread_count > 0))
        ORDER BY m.id LIMIT ${MAX_ITEMS}`;
      if (items.length) {
        await mailer.send({
          to: d.email,
          subject: `${items.length} unread ${items.length === 1 ? 'message' : 'messages'} for you`,
          text: digestText(d.name, items),
        });
        sent++;
      }
      await prisma.$executeRaw`DELETE FROM email_digest_items WHERE user_id = ${d.user_id} AND created_at <= ${at}::timestamptz`;
      if (items.length)
        await prisma.$executeRaw`UPDATE notification_preferences SET last_emailed_at = ${at} WHERE user_id = ${d.user_id}`;
    }
    if (sent) log.info({ emails: sent }, 'email digests sent');
    return sent;
  }

  return {
    runOnce,
    /** Starts the periodic runs (idempotent). */
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (running) return;
        running = runOnce()
          .catch((err: unknown) => log.warn({ err }, 'email digest run failed; next run retries'))
          .finally(() => (running = null));
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}

export type Digests = ReturnType<typeof createDigests>;

function digestText(name: string, items: ItemRow[]): string {
  const lines = items.map((m) => {
    const where = m.kind === 'DIRECT' ? `Direct message` : `#${m.channel_name}${m.thread_root_id ? ' (thread)' : ''}`;
    return `${where} — ${m.author_name}: ${previewOf(m.text)}`;
  });
  return `Hi ${name},\n\nwhile you were away:\n\n${lines.join('\n')}\n\nOpen the app to reply.\n`;
}
