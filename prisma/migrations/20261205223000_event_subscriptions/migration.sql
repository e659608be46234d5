-- Outgoing events: a bot's subscription to event kinds, delivered to its callback URL signed with
-- HMAC-SHA256 (the secret is kept to sign). A subscription that keeps failing is disabled.
CREATE TABLE "event_subscriptions" (
    "id" BIGINT NOT NULL,
    "workspace_id" BIGINT NOT NULL,
    "bot_user_id" BIGINT NOT NULL,
    "url" TEXT NOT NULL,
    "kinds" TEXT[] NOT NULL,
    "secret" TEXT NOT NULL,
    "created_by_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "disabled_at" TIMESTAMPTZ(3),
    CONSTRAINT "event_subscriptions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "event_subscriptions_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "event_subscriptions_bot_user_id_fkey" FOREIGN KEY ("bot_user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "event_subscriptions_bot_user_id_idx" ON "event_subscriptions"("bot_user_id");
