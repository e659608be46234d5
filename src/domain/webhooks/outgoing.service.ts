import { randomBytes } from 'node:crypto';
import type { ServiceDeps } from '../deps.js';
import { badInput, notFound } from '../errors.js';
import { requireHuman, type Viewer } from '../viewer.js';
import type { BotsService } from '../bots/bots.service.js';

/** Event kinds a bot may subscribe to, each carried by an outbox row written with its change. */
export const EVENT_KINDS = ['MESSAGE_POSTED', 'BOT_MENTIONED', 'REACTION_ADDED', 'MEMBER_JOINED'] as const;

/** The outbox kinds the consumer delivers (app.ts registers it for these). */
export const OUTBOX_KINDS = ['message.posted', 'reaction.added', 'member.joined'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** How the gateway delivers: an adapter (infra/webhooks) chosen by app.ts. */
export interface WebhookSender {
  /** Throws (Error with a readable message) for URLs that may not be called. */
  checkUrl(url: string): Promise<void>;
  deliver(url: string, secret: string, eventId: string, body: string): Promise<{ status: number }>;
}

export interface EventSubscription {
  id: bigint;
  workspaceId: bigint;
  botUserId: bigint;
  url: string;
  kinds: EventKind[];
  secret: string;
  createdAt: Date;
  failures: number;
  lastError: string | null;
  disabledAt: Date | null;
}

interface OutboxEventLike {
  id: bigint;
  kind: string;
  payload: unknown;
  createdAt: Date;
}

// No Prisma model yet (raw SQL keeps this change out of the shared schema file).
const COLUMNS = `id, workspace_id AS "workspaceId", bot_user_id AS "botUserId", url, kinds, secret,
  created_at AS "createdAt", failures, last_error AS "lastError", disabled_at AS "disabledAt"`;

const S_COLUMNS = `s.id, s.workspace_id AS "workspaceId", s.bot_user_id AS "botUserId", s.url, s.kinds, s.secret,
  s.created_at AS "createdAt", s.failures, s.last_error AS "lastError", s.disabled_at AS "disabledAt"`;

/**
 * Outgoing events (Slack Events API style): a bot's subscriptions, and the outbox consumer that
 * delivers to the subscriptions of bots that are members of the channel: `message.posted` (as
 * MESSAGE_POSTED, or BOT_MENTIONED when the message mentions the bot), `reaction.added`
 * (REACTION_ADDED, not for the bot's own reactions) and `member.joined` (MEMBER_JOINED). At least once: each body
 * carries the event id for de-duplication; a failed delivery is retried with the outbox's
 * back-off; after `maxFailures` failures in a row the subscription is disabled (disabledAt,
 * lastError) and gets nothing more.
 */
export function createOutgoingWebhooksService(
  deps: ServiceDeps,
  bots: BotsService,
  opts: { sender: WebhookSender | null; maxFailures: number; log?: { warn(o: object, msg: string): void } },
) {
  const { prisma, ids } = deps;

  async function load(id: bigint): Promise<EventSubscription | null> {
    const [row] = await prisma.$queryRawUnsafe<EventSubscription[]>(
      `SELECT ${COLUMNS} FROM event_subscriptions WHERE id = $1`,
      id,
    );
    return row ?? null;
  }

  async function deliverOne(sub: EventSubscription, eventId: string, body: string): Promise<boolean> {
    let error: string | null = null;
    try {
      const { status } = await opts.sender!.deliver(sub.url, sub.secret, eventId, body);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (err) {
      error = (err as Error).message.slice(0, 200);
    }
    if (!error) {
      if (sub.failures) await prisma.$executeRaw`UPDATE event_subscriptions SET failures = 0 WHERE id = ${sub.id}`;
      return true;
    }
    const [row] = await prisma.$queryRaw<{ failures: number }[]>`
      UPDATE event_subscriptions SET failures = failures + 1, last_error = ${error},
        disabled_at = CASE WHEN failures + 1 >= ${opts.maxFailures} THEN now() ELSE disabled_at END
      WHERE id = ${sub.id} RETURNING failures`;
    if (row && row.failures >= opts.maxFailures)
      opts.log?.warn({ subscription: sub.id.toString(), error }, 'event subscription disabled after repeated failures');
    return row ? row.failures >= opts.maxFailures : true; // disabled: nothing left to retry
  }

  /** Enabled subscriptions of bots that are members of the channel (not `exceptUserId`'s). */
  const subscribersIn = (channelId: bigint, exceptUserId: bigint | null) =>
    prisma.$queryRawUnsafe<EventSubscription[]>(
      `SELECT ${S_COLUMNS} FROM event_subscriptions s
         JOIN channel_members cm ON cm.user_id = s.bot_user_id AND cm.channel_id = $1
       WHERE s.disabled_at IS NULL AND s.bot_user_id IS DISTINCT FROM $2`,
      channelId,
      exceptUserId,
    );

  const envelope = (event: OutboxEventLike, sub: EventSubscription, type: EventKind, data: object) => {
    const eventId = `evt_${event.id}_${sub.id}`;
    const body = JSON.stringify({
      id: eventId,
      type,
      createdAt: event.createdAt.toISOString(),
      workspaceId: sub.workspaceId.toString(),
      ...data,
    });
    return { sub, eventId, body };
  };

  /** The signed deliveries one outbox event makes: which subscriptions get it, as what. */
  async function deliveriesOf(event: OutboxEventLike) {
    const p = event.payload as { messageId?: string; channelId?: string; userId?: string; emoji?: string };
    if (event.kind === 'member.joined') {
      if (!p.channelId || !p.userId) return [];
      const subs = (await subscribersIn(BigInt(p.channelId), null)).filter((s) => s.kinds.includes('MEMBER_JOINED'));
      return subs.map((sub) => envelope(event, sub, 'MEMBER_JOINED', { channelId: p.channelId, userId: p.userId }));
    }
    if (!p.messageId || !p.channelId) return [];
    const message = await prisma.message.findUnique({ where: { id: BigInt(p.messageId) } });
    if (!message || message.deletedAt) return [];
    if (event.kind === 'reaction.added') {
      if (!p.userId || !p.emoji) return [];
      const subs = (await subscribersIn(message.channelId, BigInt(p.userId))).filter((s) =>
        s.kinds.includes('REACTION_ADDED'),
      );
      return subs.map((sub) =>
        envelope(event, sub, 'REACTION_ADDED', {
          reaction: { messageId: p.messageId, channelId: p.channelId, userId: p.userId, emoji: p.emoji },
        }),
      );
    }
    // message.posted
    const subs = await subscribersIn(message.channelId, message.authorId);
    if (!subs.length) return [];
    const mentioned = new Set(
      (await prisma.messageMention.findMany({ where: { messageId: message.id } })).map((m) => m.userId),
    );
    const out: ReturnType<typeof envelope>[] = [];
    for (const sub of subs) {
      const kind: EventKind | null =
        mentioned.has(sub.botUserId) && sub.kinds.includes('BOT_MENTIONED')
          ? 'BOT_MENTIONED'
          : sub.kinds.includes('MESSAGE_POSTED')
            ? 'MESSAGE_POSTED'
            : null;
      if (!kind) continue;
      out.push(
        envelope(event, sub, kind, {
          message: {
            id: message.id.toString(),
            channelId: message.channelId.toString(),
            authorId: message.authorId.toString(),
            text: message.text,
            threadRootId: message.threadRootId?.toString() ?? null,
            createdAt: message.createdAt.toISOString(),
          },
        }),
      );
    }
    return out;
  }

  return {
    async createEventSubscription(viewer: Viewer, input: { botId: bigint; url: string; kinds: EventKind[] }) {
      requireHuman(viewer, 'manage event subscriptions');
      const bot = await bots.administerBot(viewer, input.botId);
      const kinds = [...new Set(input.kinds)];
      if (kinds.length === 0)
        throw badInput('events/no_kinds', 'kinds must name at least one event kind', { field: 'kinds' });
      if (input.url.length > 2000) throw badInput('events/bad_url', 'url is too long', { field: 'url' });
      if (!opts.sender) throw badInput('events/off', 'outgoing events are not configured on this server');
      try {
        await opts.sender.checkUrl(input.url);
      } catch (err) {
        throw badInput('events/bad_url', (err as Error).message, { field: 'url' });
      }
      const id = ids.next();
      const secret = randomBytes(24).toString('base64url');
      await prisma.$executeRaw`
        INSERT INTO event_subscriptions (id, workspace_id, bot_user_id, url, kinds, secret, created_by_id)
        VALUES (${id}, ${bot.workspaceId}, ${bot.userId}, ${input.url}, ${kinds}::text[], ${secret}, ${viewer.userId})`;
      return (await load(id))!;
    },

    async deleteEventSubscription(viewer: Viewer, id: bigint): Promise<boolean> {
      requireHuman(viewer, 'manage event subscriptions');
      const sub = await load(id);
      const bot = sub ? await prisma.bot.findUnique({ where: { userId: sub.botUserId } }) : null;
      if (!sub || !bot) throw notFound('event_subscription', id);
      await bots.administerBot(viewer, bot.id).catch(() => {
        throw notFound('event_subscription', id);
      });
      return (await prisma.$executeRaw`DELETE FROM event_subscriptions WHERE id = ${id}`) > 0;
    },

    async eventSubscriptions(viewer: Viewer, botId: bigint): Promise<EventSubscription[]> {
      const bot = await bots.administerBot(viewer, botId);
      return prisma.$queryRawUnsafe<EventSubscription[]>(
        `SELECT ${COLUMNS} FROM event_subscriptions WHERE bot_user_id = $1 ORDER BY id`,
        bot.userId,
      );
    },

    /**
     * The outbox consumer for OUTBOX_KINDS (`message.posted`, `reaction.added`, `member.joined`),
     * delivered to the subscriptions of bots that are members of the event's channel. Throws when
     * a delivery failed and its subscription is still enabled, so the outbox retries the batch
     * with back-off (receivers de-duplicate by event id).
     */
    async handle(events: OutboxEventLike[]): Promise<void> {
      if (!opts.sender) return;
      let retry = false;
      for (const event of events) {
        for (const { sub, eventId, body } of await deliveriesOf(event)) {
          if (!(await deliverOne(sub, eventId, body))) retry = true;
        }
      }
      if (retry) throw new Error('some event deliveries failed; retrying with back-off');
    },
  };
}

export type OutgoingWebhooksService = ReturnType<typeof createOutgoingWebhooksService>;
