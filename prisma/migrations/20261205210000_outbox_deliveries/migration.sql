-- Outbox consumers each get their own copy of an event (src/infra/outbox/registry.ts), so several
-- consumers of one kind (search, file previews, webhooks...) succeed, fail and retry apart.
-- A worker fans new `outbox` rows out here (one row per consumer of the kind) and marks the
-- `outbox` row processed; each consumer then claims only its own rows. `event_id` is the outbox
-- row's id: the per-aggregate order and the idempotency key. Columns mirror `outbox`.
CREATE TABLE "outbox_deliveries" (
    "id" BIGSERIAL NOT NULL,
    "event_id" BIGINT NOT NULL,
    "consumer" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "aggregate_id" BIGINT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "available_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    CONSTRAINT "outbox_deliveries_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "outbox_deliveries_consumer_event_key" ON "outbox_deliveries" ("consumer", "event_id");
CREATE INDEX "outbox_deliveries_pending_idx" ON "outbox_deliveries" ("consumer", "available_at", "event_id") WHERE "processed_at" IS NULL;
CREATE INDEX "outbox_deliveries_pending_aggregate_idx" ON "outbox_deliveries" ("consumer", "aggregate_id", "event_id") WHERE "processed_at" IS NULL;
