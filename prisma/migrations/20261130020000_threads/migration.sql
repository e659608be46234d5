-- Thread followers: who gets a thread badge, and how many replies they have not read.
-- Repliers, the root's author and users mentioned in a reply follow automatically.
CREATE TABLE "thread_followers" (
    "root_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "channel_id" BIGINT NOT NULL,
    "unread_count" INTEGER NOT NULL DEFAULT 0,
    "followed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "thread_followers_pkey" PRIMARY KEY ("root_id","user_id")
);

CREATE INDEX "thread_followers_user_id_idx" ON "thread_followers"("user_id");

ALTER TABLE "thread_followers" ADD CONSTRAINT "thread_followers_root_id_fkey" FOREIGN KEY ("root_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "thread_followers" ADD CONSTRAINT "thread_followers_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
