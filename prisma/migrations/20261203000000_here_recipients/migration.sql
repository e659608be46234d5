-- @here counts only for members online at send time; remember who they were, so that a
-- recount (markRead moving back) applies the same rule as the send did.
ALTER TABLE "message_mentions" ADD COLUMN "recipients" BIGINT[] NOT NULL DEFAULT ARRAY[]::BIGINT[];
