-- A channel's sequence is gap-free and in commit order (assigned under the channel row lock), so
-- it is the safe resume key for a stream: ids are taken before the lock, and two concurrent sends
-- can commit in the other order. Replays read by (channel_id, seq).
CREATE INDEX "messages_channel_seq_idx" ON "messages"("channel_id", "seq") WHERE "seq" IS NOT NULL;
