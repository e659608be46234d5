-- Full-text search (PostgreSQL backend) and outbox bookkeeping for the search indexer.
--
-- search_documents is the PostgreSQL search index: a derived copy of each live message, written
-- only by the outbox worker (src/infra/outbox/outbox.worker.ts) and `npm run reindex`, never by
-- the send path. The same documents go to Typesense when SEARCH_BACKEND=typesense.
-- `tsv` holds the message under the configured language (stemmed, SEARCH_LANGUAGE) followed by the
-- same text under 'simple' (every word as written), so stemmed words, prefixes of words as written
-- ("deplo" finds "deployment") and phrases all match through the one GIN index. The language is
-- applied when a document is written: after changing SEARCH_LANGUAGE, run `npm run reindex`.
CREATE TABLE "search_documents" (
    "message_id" BIGINT NOT NULL,
    "channel_id" BIGINT NOT NULL,
    "workspace_id" BIGINT NOT NULL,
    "author_id" BIGINT NOT NULL,
    "thread_root_id" BIGINT,
    "is_thread" BOOLEAN NOT NULL DEFAULT false,
    "has_file" BOOLEAN NOT NULL DEFAULT false,
    "has_link" BOOLEAN NOT NULL DEFAULT false,
    "mentioned_user_ids" BIGINT[] NOT NULL DEFAULT '{}',
    "body" TEXT NOT NULL,
    "tsv" tsvector NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "indexed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "search_documents_pkey" PRIMARY KEY ("message_id")
);

-- Words, phrases and prefixes.
CREATE INDEX "search_documents_tsv_idx" ON "search_documents" USING GIN ("tsv");
-- Access control is a channel filter in every search: newest first per channel, and by author.
-- The channel index carries tsv, so a search within a few channels walks the index alone
-- (index-only scan): a channel's messages are scattered over the table, its index entries are not.
CREATE INDEX "search_documents_channel_idx" ON "search_documents" ("channel_id", "message_id" DESC) INCLUDE ("tsv");
CREATE INDEX "search_documents_author_idx" ON "search_documents" ("author_id", "message_id" DESC);
-- mentions:@user
CREATE INDEX "search_documents_mentions_idx" ON "search_documents" USING GIN ("mentioned_user_ids");

-- Outbox: why the last attempt failed (cleared on success), and per-aggregate ordering: a worker
-- takes an event only when no older unprocessed event of the same aggregate is waiting.
ALTER TABLE "outbox" ADD COLUMN "last_error" TEXT;
CREATE INDEX "outbox_pending_aggregate_idx" ON "outbox" ("aggregate_id", "id") WHERE "processed_at" IS NULL;
