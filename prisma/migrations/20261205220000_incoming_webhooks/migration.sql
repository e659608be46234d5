-- Incoming webhooks: a secret URL that posts into one channel as the hook's own bot user.
-- Only the SHA-256 of the secret is stored; the URL is shown once.
CREATE TABLE "incoming_webhooks" (
    "id" BIGINT NOT NULL,
    "workspace_id" BIGINT NOT NULL,
    "channel_id" BIGINT NOT NULL,
    "bot_user_id" BIGINT NOT NULL,
    "name" TEXT NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "created_by_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),
    CONSTRAINT "incoming_webhooks_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "incoming_webhooks_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "incoming_webhooks_channel_id_fkey" FOREIGN KEY ("channel_id") REFERENCES "channels"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "incoming_webhooks_bot_user_id_fkey" FOREIGN KEY ("bot_user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "incoming_webhooks_secret_hash_key" ON "incoming_webhooks"("secret_hash");
CREATE INDEX "incoming_webhooks_channel_id_idx" ON "incoming_webhooks"("channel_id");
