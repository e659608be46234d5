-- Notifications for people who are not looking (push, email): preferences per user and per
-- channel, push devices, a delivery log (one push per message and device), thread mention counts.

CREATE TYPE "PushPlatform" AS ENUM ('WEB_PUSH', 'FCM', 'APNS');

-- Per-user preferences; a user without a row has the defaults (push MENTIONS, email never, no DND, UTC).
CREATE TABLE "notification_preferences" (
    "user_id" BIGINT NOT NULL,
    "push_level" "NotificationLevel" NOT NULL DEFAULT 'MENTIONS',
    "email_after_minutes" INTEGER,
    "dnd_start_minute" INTEGER,
    "dnd_end_minute" INTEGER,
    "snooze_until" TIMESTAMPTZ(3),
    "time_zone" TEXT NOT NULL DEFAULT 'UTC',
    "last_emailed_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "notification_preferences_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "notification_preferences_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- Per-channel override of the push level (NULL: the user's default).
ALTER TABLE "channel_members" ADD COLUMN "push_level" "NotificationLevel";

-- Mentions among a followed thread's unread replies (reset by markThreadRead).
ALTER TABLE "thread_followers" ADD COLUMN "mention_count" INTEGER NOT NULL DEFAULT 0;

CREATE TABLE "push_devices" (
    "id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "platform" "PushPlatform" NOT NULL,
    "token" TEXT NOT NULL,
    "p256dh" TEXT,
    "auth" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "push_devices_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "push_devices_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "push_devices_platform_token_key" ON "push_devices"("platform", "token");
CREATE INDEX "push_devices_user_id_idx" ON "push_devices"("user_id");

-- One row per (message, device) accepted by the provider: a retried batch never pushes twice.
CREATE TABLE "push_deliveries" (
    "message_id" BIGINT NOT NULL,
    "device_id" BIGINT NOT NULL,
    "delivered_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "push_deliveries_pkey" PRIMARY KEY ("message_id", "device_id")
);
