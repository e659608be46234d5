/**
 * Link unfurls: the http(s) links of a new or edited message are fetched by the `unfurls` outbox
 * consumer (registered in app.ts, run inline or in `npm run worker`), never on the send path, and
 * what their pages say about themselves (Open Graph, Twitter card, <title>) is stored per
 * (message, url). When unfurls arrive or go, the message is announced as MessageEdited (the path
 * file previews use), so viewers' clients refresh it and read `Message.unfurls`.
 *
 * Rules: at most `maxPerMessage` links per message; a link already tried for the message is not
 * fetched again on edit (FAILED rows remember the misses); a link the sender removed
 * (`removeUnfurl`) is never fetched again for that message; a link edited out loses its unfurl; a
 * deleted message gets none (the write re-checks the message under a row lock, and deleting purges
 * them). How a page is fetched (the SSRF guard, timeouts, size cap, redirects) is the fetcher's
 * business: src/infra/unfurl/.
 */
import type { PrismaClient } from '../../infra/db/database.js';
import { withTx } from '../../infra/db/tx.js';
import type { OutboxEvent } from '../../infra/outbox/outbox.worker.js';
import type { Message, MessageUnfurl } from '../../generated/prisma/client.js';
import type { ServiceDeps } from '../deps.js';
import { forbidden, notFound } from '../errors.js';
import type { EventPublisher } from '../events/events.js';
import { requireScope, type Viewer } from '../viewer.js';
import type { MessageCommon } from './message-common.js';
import { extractUrls, normalizeUrl } from './mentions.js';
import { str } from './message-common.js';

/** What a page says about itself; null fields were not found. */
export interface UnfurlMeta {
  title: string | null;
  description: string | null;
  imageUrl: string | null;
  siteName: string | null;
}

/**
 * Fetches a URL and reads its metadata (the port; src/infra/unfurl/ is the adapter). Resolves null
 * when there is nothing to show (refused address, timeout, too big, not HTML, no metadata...);
 * rejects only when it is closing, so the event is retried by another run.
 */
export interface UnfurlFetcher {
  unfurl(url: string): Promise<UnfurlMeta | null>;
  close(): Promise<void>;
}

export const UNFURL_KINDS = ['message.posted', 'message.edited'] as const;

/** The unfurls a message shows: READY rows in the order their links appear in the text. */
export function visibleUnfurls(text: string, rows: MessageUnfurl[]): MessageUnfurl[] {
  const order = extractUrls(text);
  return rows
    .filter((r) => r.status === 'READY' && order.includes(r.url))
    .sort((a, b) => order.indexOf(a.url) - order.indexOf(b.url));
}

export function createUnfurlConsumer(deps: {
  prisma: PrismaClient;
  events: EventPublisher;
  fetcher: UnfurlFetcher;
  log: { warn(obj: object, msg: string): void };
  maxPerMessage: number;
  /** Messages unfurled at once within a batch (each fetches its links in parallel). */
  concurrency?: number;
}) {
  const { prisma, fetcher, maxPerMessage } = deps;

  async function unfurlMessage(messageId: bigint): Promise<void> {
    const m = await prisma.message.findUnique({
      where: { id: messageId },
      select: { text: true, deletedAt: true },
    });
    if (!m || m.deletedAt) return;
    const urls = extractUrls(m.text, maxPerMessage);
    const known = new Set(
      (await prisma.messageUnfurl.findMany({ where: { messageId }, select: { url: true } })).map((r) => r.url),
    );
    // No link now and none unfurled before (most messages): nothing to fetch, store or take off.
    if (!urls.length && !known.size) return;
    const todo = urls.filter((u) => !known.has(u));
    const found = await Promise.all(todo.map(async (url) => ({ url, meta: await fetcher.unfurl(url) })));

    const changed = await withTx(prisma, async (tx) => {
      // Under the message's row lock: a delete or edit committed meanwhile is seen, one in progress waited for.
      const [live] = await tx.$queryRaw<{ text: string; channel_id: bigint; thread_root_id: bigint | null }[]>`
        SELECT text, channel_id, thread_root_id FROM messages
        WHERE id = ${messageId} AND deleted_at IS NULL FOR SHARE`;
      if (!live) return null;
      const current = extractUrls(live.text, maxPerMessage);
      // Links edited out lose their unfurl; REMOVED rows stay (taken off once, never fetched again).
      const stale = await tx.messageUnfurl.findMany({
        where: { messageId, status: { not: 'REMOVED' }, url: { notIn: current } },
        select: { url: true, status: true },
      });
      if (stale.length)
        await tx.messageUnfurl.deleteMany({ where: { messageId, url: { in: stale.map((s) => s.url) } } });
      let added = 0;
      for (const { url, meta } of found) {
        if (!current.includes(url)) continue;
        const n = await tx.$executeRaw`
          INSERT INTO message_unfurls (message_id, url, status, title, description, image_url, site_name)
          VALUES (${messageId}, ${url}, ${meta ? 'READY' : 'FAILED'}::"UnfurlStatus", ${meta?.title ?? null},
                  ${meta?.description ?? null}, ${meta?.imageUrl ?? null}, ${meta?.siteName ?? null})
          ON CONFLICT (message_id, url) DO NOTHING`;
        if (n > 0 && meta) added++;
      }
      return added > 0 || stale.some((s) => s.status === 'READY') ? live : null;
    });
    if (changed)
      deps.events.publish({
        type: 'MessageEdited',
        channelId: changed.channel_id.toString(),
        messageId: messageId.toString(),
        threadRootId: str(changed.thread_root_id),
      });
  }

  return {
    name: 'unfurls',
    kinds: UNFURL_KINDS,
    /** Each message once per batch (its latest text is read), a few at a time. A page that fails is no unfurl, never a retry. */
    async handle(events: OutboxEvent[]) {
      const ids = [...new Set(events.map((e) => e.aggregateId))];
      const limit = Math.max(1, deps.concurrency ?? 4);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(limit, ids.length) }, async () => {
          while (next < ids.length) await unfurlMessage(ids[next++]!);
        }),
      );
    },
    close: () => fetcher.close(),
  };
}

/** The sender's side: taking an unfurl off a message. */
export function createUnfurlService(deps: ServiceDeps, common: MessageCommon) {
  const { prisma } = deps;
  return {
    /**
     * The sender removes the unfurl of one of their message's links; it is not fetched again, even
     * on edit. Others: FORBIDDEN (or NOT_FOUND for a message they may not see). A link not in the
     * message: NOT_FOUND. Removing twice is fine.
     */
    async removeUnfurl(viewer: Viewer, messageId: bigint, rawUrl: string): Promise<Message> {
      requireScope(viewer, 'CHAT_WRITE');
      const { message, channel } = await common.accessMessage(viewer, messageId);
      if (message.deletedAt) throw notFound('message', messageId);
      if (message.authorId !== viewer.userId)
        throw forbidden('message/not_author', 'Only the sender can remove an unfurl');
      const url = normalizeUrl(rawUrl.trim());
      if (!url || !extractUrls(message.text).includes(url)) throw notFound('unfurl');
      const [row] = await prisma.$queryRaw<{ prior: string | null }[]>`
        WITH prior AS (SELECT status::text AS status FROM message_unfurls WHERE message_id = ${messageId} AND url = ${url}),
        up AS (
          INSERT INTO message_unfurls (message_id, url, status) VALUES (${messageId}, ${url}, 'REMOVED')
          ON CONFLICT (message_id, url) DO UPDATE
            SET status = 'REMOVED', title = NULL, description = NULL, image_url = NULL, site_name = NULL
          RETURNING 1)
        SELECT (SELECT status FROM prior) AS prior, (SELECT count(*) FROM up) AS n`;
      // Viewers refresh the message unless nothing changed (removed before).
      if (row?.prior !== 'REMOVED')
        common.publishAll([
          {
            type: 'MessageEdited',
            channelId: channel.id.toString(),
            messageId: messageId.toString(),
            threadRootId: str(message.threadRootId),
          },
        ]);
      return message;
    },
  };
}
