/** PostgreSQL search: the search_documents table: startup checks, writes, deletes and the rebuild sweep. */
import type { Prisma } from '../../generated/prisma/client.js';
import type { PrismaClient } from '../db/database.js';
import type { SearchDocument } from './search-index.port.js';

/** Checks that the language exists in this database (pg_ts_config) and that the table is there. */
export async function checkSearchSchema(prisma: PrismaClient, language: string): Promise<void> {
  const ok = await prisma.$queryRaw<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM pg_ts_config WHERE cfgname = ${language}`;
  if (!ok[0]?.n) {
    throw new Error(
      `SEARCH_LANGUAGE "${language}" is not a text search configuration of this database (see pg_ts_config)`,
    );
  }
  await prisma.$queryRaw`SELECT 1 FROM search_documents LIMIT 0`;
}

/** Inserts or replaces documents, computing their tsv under `cfg` (the language as a regconfig literal). */
export async function upsertDocuments(prisma: PrismaClient, cfg: Prisma.Sql, docs: SearchDocument[]): Promise<void> {
  if (docs.length === 0) return;
  const json = JSON.stringify(
    docs.map((d) => ({
      message_id: d.messageId.toString(),
      channel_id: d.channelId.toString(),
      workspace_id: d.workspaceId.toString(),
      author_id: d.authorId.toString(),
      thread_root_id: d.threadRootId?.toString() ?? null,
      is_thread: d.isThread,
      has_file: d.hasFile,
      has_link: d.hasLink,
      mentioned_user_ids: d.mentionedUserIds.map(String),
      body: d.text,
      created_at: d.createdAt.toISOString(),
    })),
  );
  await prisma.$executeRaw`
    INSERT INTO search_documents AS s (message_id, channel_id, workspace_id, author_id, thread_root_id, is_thread,
      has_file, has_link, mentioned_user_ids, body, tsv, created_at, indexed_at)
    SELECT v.message_id, v.channel_id, v.workspace_id, v.author_id, v.thread_root_id, v.is_thread,
      v.has_file, v.has_link, v.mentioned_user_ids, v.body,
      to_tsvector(${cfg}, v.body) || to_tsvector('simple', v.body), v.created_at, clock_timestamp()
    FROM jsonb_to_recordset(${json}::jsonb) AS v(message_id bigint, channel_id bigint, workspace_id bigint, author_id bigint,
      thread_root_id bigint, is_thread boolean, has_file boolean, has_link boolean, mentioned_user_ids bigint[],
      body text, created_at timestamptz)
    ON CONFLICT (message_id) DO UPDATE SET
      channel_id = EXCLUDED.channel_id, workspace_id = EXCLUDED.workspace_id, author_id = EXCLUDED.author_id,
      thread_root_id = EXCLUDED.thread_root_id, is_thread = EXCLUDED.is_thread, has_file = EXCLUDED.has_file,
      has_link = EXCLUDED.has_link, mentioned_user_ids = EXCLUDED.mentioned_user_ids, body = EXCLUDED.body,
      tsv = EXCLUDED.tsv, created_at = EXCLUDED.created_at, indexed_at = EXCLUDED.indexed_at`;
}

export async function removeDocuments(prisma: PrismaClient, messageIds: bigint[]): Promise<void> {
  if (messageIds.length === 0) return;
  await prisma.$executeRaw`DELETE FROM search_documents WHERE message_id = ANY(${messageIds}::bigint[])`;
}

/**
 * The instant an in-place rebuild begins: every write from then on is stamped strictly later, so
 * sweepDocumentsBefore(instant) deletes exactly what was written before it.
 */
export async function rebuildStartedAt(prisma: PrismaClient): Promise<string> {
  const [row] = await prisma.$queryRaw<{ t: string }[]>`SELECT clock_timestamp()::text AS t`;
  const startedAt = row!.t;
  // Every write from now on must be stamped strictly later (clocks can be coarse, e.g. PGlite's).
  for (let i = 0; i < 100; i++) {
    const [later] = await prisma.$queryRaw<
      { ok: boolean }[]
    >`SELECT clock_timestamp() > ${startedAt}::timestamptz AS ok`;
    if (later?.ok) break;
    await new Promise((r) => setTimeout(r, 1));
  }
  return startedAt;
}

/** Deletes what neither the rebuild nor a live write touched since it began, then refreshes the statistics. */
export async function sweepDocumentsBefore(prisma: PrismaClient, startedAt: string): Promise<void> {
  await prisma.$executeRaw`DELETE FROM search_documents WHERE indexed_at <= ${startedAt}::timestamptz`;
  // Fresh statistics: the plan choice (estimateShare) reads them.
  await prisma.$executeRawUnsafe('ANALYZE search_documents');
}
