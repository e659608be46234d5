-- Partner API keys: workspace-scoped app keys with scopes and a rate tier, created and revoked by
-- workspace owners and admins. Each key acts as its own app user (a workspace member, like a bot
-- user); only the SHA-256 of the key is stored.
CREATE TABLE "api_keys" (
    "id" BIGINT NOT NULL,
    "workspace_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "name" TEXT NOT NULL,
    "scopes" TEXT[] NOT NULL,
    "tier" TEXT NOT NULL DEFAULT 'STANDARD',
    "key_hash" TEXT NOT NULL,
    "created_by_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "api_keys_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "api_keys_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");
CREATE UNIQUE INDEX "api_keys_user_id_key" ON "api_keys"("user_id");
CREATE INDEX "api_keys_workspace_id_idx" ON "api_keys"("workspace_id");
