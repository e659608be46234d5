-- CreateEnum
CREATE TYPE "WorkspaceRole" AS ENUM ('OWNER', 'ADMIN', 'MEMBER');
CREATE TYPE "ChannelKind" AS ENUM ('PUBLIC', 'PRIVATE', 'DIRECT');
CREATE TYPE "NotificationLevel" AS ENUM ('ALL', 'MENTIONS', 'NONE');
CREATE TYPE "TokenKind" AS ENUM ('SESSION', 'BOT');
CREATE TYPE "MentionKind" AS ENUM ('USER', 'HERE', 'CHANNEL');
CREATE TYPE "FileStatus" AS ENUM ('PENDING', 'READY');

-- CreateTable
CREATE TABLE "workspaces" (
    "id" BIGINT NOT NULL,
    "name" TEXT NOT NULL,
    "invite_code" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "workspaces_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "users" (
    "id" BIGINT NOT NULL,
    "email" TEXT,
    "name" TEXT NOT NULL,
    "password_hash" TEXT,
    "is_bot" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "workspace_members" (
    "workspace_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "role" "WorkspaceRole" NOT NULL DEFAULT 'MEMBER',
    "joined_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "workspace_members_pkey" PRIMARY KEY ("workspace_id","user_id")
);

CREATE TABLE "tokens" (
    "id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "kind" "TokenKind" NOT NULL,
    "token_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    CONSTRAINT "tokens_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "bots" (
    "id" BIGINT NOT NULL,
    "workspace_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "name" TEXT NOT NULL,
    "scopes" TEXT[],
    "created_by_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "bots_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "channels" (
    "id" BIGINT NOT NULL,
    "workspace_id" BIGINT NOT NULL,
    "kind" "ChannelKind" NOT NULL,
    "name" TEXT NOT NULL,
    "topic" TEXT NOT NULL DEFAULT '',
    "dm_key" TEXT,
    "created_by_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seq" BIGINT NOT NULL DEFAULT 0,
    "last_message_id" BIGINT,
    "member_count" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "channels_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "channel_members" (
    "channel_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "joined_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_read_seq" BIGINT NOT NULL DEFAULT 0,
    "last_read_message_id" BIGINT,
    "mention_count" INTEGER NOT NULL DEFAULT 0,
    "notification_level" "NotificationLevel" NOT NULL DEFAULT 'ALL',
    "muted" BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT "channel_members_pkey" PRIMARY KEY ("channel_id","user_id")
);

CREATE TABLE "messages" (
    "id" BIGINT NOT NULL,
    "channel_id" BIGINT NOT NULL,
    "author_id" BIGINT NOT NULL,
    "text" TEXT NOT NULL,
    "seq" BIGINT,
    "thread_root_id" BIGINT,
    "also_sent_to_channel" BOOLEAN NOT NULL DEFAULT false,
    "listed" BOOLEAN NOT NULL,
    "reply_count" INTEGER NOT NULL DEFAULT 0,
    "last_reply_at" TIMESTAMPTZ(3),
    "client_nonce" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "edited_at" TIMESTAMPTZ(3),
    "deleted_at" TIMESTAMPTZ(3),
    CONSTRAINT "messages_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "message_mentions" (
    "id" BIGSERIAL NOT NULL,
    "message_id" BIGINT NOT NULL,
    "kind" "MentionKind" NOT NULL,
    "user_id" BIGINT,
    CONSTRAINT "message_mentions_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "reactions" (
    "message_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "emoji" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "reactions_pkey" PRIMARY KEY ("message_id","emoji","user_id")
);

CREATE TABLE "files" (
    "id" BIGINT NOT NULL,
    "workspace_id" BIGINT NOT NULL,
    "channel_id" BIGINT NOT NULL,
    "uploader_id" BIGINT NOT NULL,
    "name" TEXT NOT NULL,
    "mime_type" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "storage_key" TEXT NOT NULL,
    "status" "FileStatus" NOT NULL DEFAULT 'PENDING',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "files_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "message_files" (
    "message_id" BIGINT NOT NULL,
    "file_id" BIGINT NOT NULL,
    CONSTRAINT "message_files_pkey" PRIMARY KEY ("message_id","file_id")
);

CREATE TABLE "outbox" (
    "id" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "aggregate_id" BIGINT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "available_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),
    CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "workspaces_invite_code_key" ON "workspaces"("invite_code");
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");
CREATE INDEX "workspace_members_user_id_idx" ON "workspace_members"("user_id");
CREATE UNIQUE INDEX "tokens_token_hash_key" ON "tokens"("token_hash");
CREATE INDEX "tokens_user_id_idx" ON "tokens"("user_id");
CREATE UNIQUE INDEX "bots_user_id_key" ON "bots"("user_id");
CREATE UNIQUE INDEX "channels_dm_key_key" ON "channels"("dm_key");
CREATE INDEX "channels_workspace_id_name_idx" ON "channels"("workspace_id", "name");
CREATE INDEX "channel_members_user_id_idx" ON "channel_members"("user_id");
CREATE UNIQUE INDEX "messages_author_id_client_nonce_key" ON "messages"("author_id", "client_nonce");
CREATE INDEX "message_mentions_message_id_idx" ON "message_mentions"("message_id");
CREATE INDEX "message_mentions_user_id_idx" ON "message_mentions"("user_id");
CREATE INDEX "files_channel_id_idx" ON "files"("channel_id");
CREATE INDEX "message_files_file_id_idx" ON "message_files"("file_id");

-- Indexes Prisma cannot express (kept out of schema.prisma on purpose).
-- Channel and group names are unique per workspace; direct messages are unique by dm_key instead.
CREATE UNIQUE INDEX "channels_workspace_name_unique" ON "channels"("workspace_id", lower("name")) WHERE "kind" <> 'DIRECT';
-- History reads only ever touch listed (live) rows: deleted messages cost nothing to page past.
CREATE INDEX "messages_history_idx" ON "messages"("channel_id", "id" DESC) WHERE "listed";
-- Thread panes: live replies of a root, oldest first.
CREATE INDEX "messages_thread_idx" ON "messages"("thread_root_id", "id") WHERE "thread_root_id" IS NOT NULL AND "deleted_at" IS NULL;
-- Outbox consumers take the oldest unprocessed rows.
CREATE INDEX "outbox_pending_idx" ON "outbox"("available_at", "id") WHERE "processed_at" IS NULL;

-- AddForeignKey
ALTER TABLE "workspace_members" ADD CONSTRAINT "workspace_members_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "workspace_members" ADD CONSTRAINT "workspace_members_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "tokens" ADD CONSTRAINT "tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "bots" ADD CONSTRAINT "bots_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "channels" ADD CONSTRAINT "channels_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "channel_members" ADD CONSTRAINT "channel_members_channel_id_fkey" FOREIGN KEY ("channel_id") REFERENCES "channels"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "channel_members" ADD CONSTRAINT "channel_members_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "messages" ADD CONSTRAINT "messages_channel_id_fkey" FOREIGN KEY ("channel_id") REFERENCES "channels"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "messages" ADD CONSTRAINT "messages_author_id_fkey" FOREIGN KEY ("author_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "message_mentions" ADD CONSTRAINT "message_mentions_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "reactions" ADD CONSTRAINT "reactions_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "reactions" ADD CONSTRAINT "reactions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "message_files" ADD CONSTRAINT "message_files_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "message_files" ADD CONSTRAINT "message_files_file_id_fkey" FOREIGN KEY ("file_id") REFERENCES "files"("id") ON DELETE CASCADE ON UPDATE CASCADE;
