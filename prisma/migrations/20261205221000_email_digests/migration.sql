-- Email digests: mentions and DMs waiting to be emailed to a user who stays offline longer than
-- their emailAfterMinutes; one email per user per digest run, then the rows are deleted.
CREATE TABLE "email_digest_items" (
    "user_id" BIGINT NOT NULL,
    "message_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "email_digest_items_pkey" PRIMARY KEY ("user_id", "message_id")
);
CREATE INDEX "email_digest_items_created_at_idx" ON "email_digest_items"("created_at");
