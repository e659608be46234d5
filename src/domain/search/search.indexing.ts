/** Search: index documents built from PostgreSQL, kept in sync by the outbox handlers, and full reindexing. */
import { Prisma } from '../../generated/prisma/client.js';
import type { ServiceDeps } from '../deps.js';
import { cleanText, type SearchDocument } from '../../infra/search/search-index.port.js';
import type { OutboxEvent, OutboxHandler } from '../../infra/outbox/outbox.worker.js';
import { key, unique } from './search.access.js';
import type { IndexingVia, ReindexProgress } from './search.types.js';
import { hasLink } from '../messages/mentions.js';

export const SEARCH_OUTBOX_KINDS = ['message.posted', 'message.edited', 'message.deleted'] as const;

interface DocRow {
  id: string;
  channel_id: string;
  workspace_id: string;
  author_id: string;
  thread_root_id: string | null;
  text: string;
  created_at: Date;
  deleted_at: Date | null;
  reply_count: number;
  has_file: boolean;
  file_names: string[] | null;
  mentioned: string[];
}

const DOC_COLUMNS =
  Prisma.raw(`m.id::text AS id, m.channel_id::text AS channel_id, c.workspace_id::text AS workspace_id,
  m.author_id::text AS author_id, m.thread_root_id::text AS thread_root_id, m.text, m.created_at, m.deleted_at, m.reply_count,
  EXISTS (SELECT 1 FROM message_files f WHERE f.message_id = m.id) AS has_file,
  ARRAY(SELECT fl.name FROM message_files f JOIN files fl ON fl.id = f.file_id WHERE f.message_id = m.id ORDER BY fl.id) AS file_names,
  ARRAY(SELECT DISTINCT mm.user_id::text FROM message_mentions mm WHERE mm.message_id = m.id AND mm.kind = 'USER' AND mm.user_id IS NOT NULL) AS mentioned`);

function toDocument(r: DocRow): SearchDocument {
  return {
    messageId: BigInt(r.id),
    channelId: BigInt(r.channel_id),
    workspaceId: BigInt(r.workspace_id),
    authorId: BigInt(r.author_id),
    threadRootId: r.thread_root_id === null ? null : BigInt(r.thread_root_id),
    isThread: r.thread_root_id !== null || Number(r.reply_count) > 0,
    hasFile: r.has_file,
    hasLink: hasLink(r.text),
    mentionedUserIds: (r.mentioned ?? []).map((v) => BigInt(v)),
    // File names are searchable with the text ("report" finds a message carrying report.pdf).
    // Names split at . _ - so each word counts (the text parser would read "q3-report.pdf" as one token).
    text: [cleanText(r.text), ...(r.file_names ?? []).map((n) => n.replace(/[._-]+/g, ' '))].filter(Boolean).join('\n'),
    createdAt: r.created_at,
  };
}

export function createSearchIndexing(prisma: ServiceDeps['prisma'], index: ServiceDeps['searchIndex']) {
  /**
   * Brings the index in line with PostgreSQL for these messages (and the thread roots of
   * replies, whose is:thread may have changed): live ones are upserted, deleted or missing ones
   * removed. Idempotent; safe to repeat and to run concurrently with itself.
   */
  async function indexMessages(messageIds: bigint[], via: IndexingVia = { prisma, searchIndex: index }): Promise<void> {
    const ids = unique(messageIds);
    if (ids.length === 0) return;
    const rows = await via.prisma.$queryRaw<DocRow[]>`
      SELECT ${DOC_COLUMNS} FROM messages m JOIN channels c ON c.id = m.channel_id
      WHERE m.id IN (
        SELECT id FROM messages WHERE id = ANY(${ids}::bigint[])
        UNION SELECT thread_root_id FROM messages WHERE id = ANY(${ids}::bigint[]) AND thread_root_id IS NOT NULL)`;
    const found = new Set(rows.map((r) => r.id));
    const live = rows.filter((r) => r.deleted_at === null);
    const gone = [
      ...rows.filter((r) => r.deleted_at !== null).map((r) => BigInt(r.id)),
      ...ids.filter((id) => !found.has(key(id))),
    ];
    await via.searchIndex.upsert(live.map(toDocument));
    await via.searchIndex.remove(gone);
  }

  function messageIdOf(e: OutboxEvent): bigint {
    const v = (e.payload as { messageId?: unknown } | null)?.messageId;
    return typeof v === 'string' && /^[0-9]{1,19}$/.test(v) ? BigInt(v) : e.aggregateId;
  }

  /**
   * One handler for every message event: re-read the message and sync the index. `via` lets the
   * composition root give the worker connections of its own (request load must not starve it).
   */
  function outboxHandlers(via?: IndexingVia): Record<string, OutboxHandler> {
    const handler: OutboxHandler = (events) => indexMessages(events.map(messageIdOf), via);
    return Object.fromEntries(SEARCH_OUTBOX_KINDS.map((k) => [k, handler]));
  }

  /**
   * Rebuilds the whole index from PostgreSQL: streams every live message in id order into a
   * rebuild of the index, commits it, then re-applies whatever changed while it ran (the outbox
   * worker kept the old index current meanwhile; for Typesense the rebuild is a new collection).
   */
  async function reindex(opts: { batchSize?: number; onProgress?: (p: ReindexProgress) => void } = {}) {
    const batchSize = opts.batchSize ?? 2_000;
    const t0 = performance.now();
    const [{ started, total }] = (await prisma.$queryRaw<{ started: Date; total: number }[]>`
      SELECT now() AS started, (SELECT count(*)::int FROM messages WHERE deleted_at IS NULL) AS total`) as [
      { started: Date; total: number },
    ];
    await index.init();
    const rebuild = await index.beginRebuild();
    let done = 0;
    try {
      let after = 0n;
      for (;;) {
        const rows = await prisma.$queryRaw<DocRow[]>`
          SELECT ${DOC_COLUMNS} FROM messages m JOIN channels c ON c.id = m.channel_id
          WHERE m.id > ${after} AND m.deleted_at IS NULL ORDER BY m.id LIMIT ${batchSize}`;
        if (rows.length === 0) break;
        await rebuild.upsert(rows.map(toDocument));
        done += rows.length;
        after = BigInt(rows.at(-1)!.id);
        opts.onProgress?.({ done, total: Math.max(total, done), elapsedMs: performance.now() - t0 });
      }
      await rebuild.commit();
    } catch (err) {
      await rebuild.abort().catch(() => {});
      throw err;
    }
    // Catch up with what changed since the rebuild began (a minute of slack for clock skew
    // between app servers and the database).
    const since = new Date(started.getTime() - 60_000);
    const changed = await prisma.$queryRaw<{ id: string }[]>`
      SELECT id::text AS id FROM messages
      WHERE created_at >= ${since} OR edited_at >= ${since} OR deleted_at >= ${since} OR last_reply_at >= ${since}`;
    for (let i = 0; i < changed.length; i += batchSize) {
      await indexMessages(changed.slice(i, i + batchSize).map((r) => BigInt(r.id)));
    }
    return { indexed: done, caughtUp: changed.length, elapsedMs: performance.now() - t0 };
  }

  return { indexMessages, outboxHandlers, reindex };
}
