-- Profiles: a unique handle per user (@ann, used by from:@ann and mention autocomplete), a status
-- (text and emoji), a time zone (IANA name) and an avatar (a READY image file the user uploaded).
ALTER TABLE "users" ADD COLUMN "handle" TEXT;
ALTER TABLE "users" ADD COLUMN "status_text" TEXT NOT NULL DEFAULT '';
ALTER TABLE "users" ADD COLUMN "status_emoji" TEXT NOT NULL DEFAULT '';
ALTER TABLE "users" ADD COLUMN "time_zone" TEXT;
ALTER TABLE "users" ADD COLUMN "avatar_file_id" BIGINT;
ALTER TABLE "users" ADD CONSTRAINT "users_avatar_file_id_fkey" FOREIGN KEY ("avatar_file_id") REFERENCES "files"("id") ON DELETE SET NULL ON UPDATE CASCADE;
-- Handles are stored lower-case (the service lower-cases them), so uniqueness is case-insensitive.
CREATE UNIQUE INDEX "users_handle_key" ON "users"("handle");
ALTER TABLE "users" ADD CONSTRAINT "users_handle_lower" CHECK ("handle" = lower("handle"));
-- Prefix search of the directory on handles.
CREATE INDEX "users_handle_prefix_idx" ON "users"("handle" text_pattern_ops);

-- A free handle derived from a name: its letters, digits, '.', '_' and '-' (lower-case, at most 20,
-- 'user' when fewer than 2 remain), then the first free of base, base2..base20, base-<id>. Names
-- that mentions and search reserve (here, channel, everyone, me) are never handed out. Serialized per base with a
-- transaction-scoped advisory lock, so two concurrent sign-ups named alike get different handles.
CREATE FUNCTION "users_free_handle"(p_name TEXT, p_id BIGINT) RETURNS TEXT AS $$
DECLARE
  base TEXT;
  candidate TEXT;
  n INT;
BEGIN
  base := left(btrim(regexp_replace(lower(coalesce(p_name, '')), '[^a-z0-9._-]+', '', 'g'), '._-'), 20);
  base := btrim(base, '._-');
  IF length(base) < 2 THEN base := 'user'; END IF;
  PERFORM pg_advisory_xact_lock(hashtext('users_handle:' || base));
  candidate := base;
  n := 1;
  WHILE candidate IN ('here', 'channel', 'everyone', 'me')
     OR EXISTS (SELECT 1 FROM "users" WHERE "handle" = candidate AND "id" <> p_id) LOOP
    n := n + 1;
    IF n > 20 THEN
      RETURN left(base, 12) || '-' || p_id::text;
    END IF;
    candidate := base || n::text;
  END LOOP;
  RETURN candidate;
END;
$$ LANGUAGE plpgsql VOLATILE;

-- Every path that creates a user (sign-up, bots, bulk loads) gets a handle without naming one.
CREATE FUNCTION "users_default_handle"() RETURNS TRIGGER AS $$
BEGIN
  IF NEW."handle" IS NULL OR NEW."handle" = '' THEN
    NEW."handle" := "users_free_handle"(NEW."name", NEW."id");
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER "users_default_handle" BEFORE INSERT ON "users"
  FOR EACH ROW EXECUTE FUNCTION "users_default_handle"();

-- Existing users, oldest first (the first Ann keeps @ann).
DO $$
DECLARE r RECORD;
BEGIN
  FOR r IN SELECT "id", "name" FROM "users" WHERE "handle" IS NULL ORDER BY "id" LOOP
    UPDATE "users" SET "handle" = "users_free_handle"(r."name", r."id") WHERE "id" = r."id";
  END LOOP;
END $$;

ALTER TABLE "users" ALTER COLUMN "handle" SET NOT NULL;
