-- Files (issue 11): uploads end READY after their size and sniffed type are checked; previews are
-- made by the `previews` outbox consumer; unfinished uploads expire; files of deleted messages are
-- removed from the store after FILE_RETENTION_HOURS.
CREATE TYPE "FilePreviewStatus" AS ENUM ('PENDING', 'READY', 'FAILED');
ALTER TABLE "files"
  ADD COLUMN "expires_at" TIMESTAMPTZ(3),
  ADD COLUMN "deleted_at" TIMESTAMPTZ(3),
  ADD COLUMN "preview_status" "FilePreviewStatus" NOT NULL DEFAULT 'PENDING',
  ADD COLUMN "width" INTEGER,
  ADD COLUMN "height" INTEGER,
  ADD COLUMN "duration_ms" INTEGER,
  ADD COLUMN "text_snippet" TEXT,
  ADD COLUMN "thumbnail_sizes" INTEGER[] NOT NULL DEFAULT '{}';
-- The sweep: unfinished uploads past their expiry, and files waiting out the retention period.
CREATE INDEX "files_pending_expiry_idx" ON "files" ("expires_at") WHERE "status" = 'PENDING';
CREATE INDEX "files_deleted_idx" ON "files" ("deleted_at") WHERE "deleted_at" IS NOT NULL;
-- Quota: bytes per workspace.
CREATE INDEX "files_workspace_idx" ON "files" ("workspace_id");
