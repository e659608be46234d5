-- Link unfurls (issue 15): the `unfurls` outbox consumer fetches the URLs of a new or edited
-- message and stores what it found per (message, url). READY rows are shown; FAILED ones (the page
-- hung, was too big, not HTML, refused, had no metadata) are kept so an edit does not fetch them
-- again; REMOVED ones were taken off by the sender and are never fetched again for that message.
CREATE TYPE "UnfurlStatus" AS ENUM ('READY', 'FAILED', 'REMOVED');
CREATE TABLE "message_unfurls" (
  "message_id" BIGINT NOT NULL,
  "url" TEXT NOT NULL,
  "status" "UnfurlStatus" NOT NULL,
  "title" TEXT,
  "description" TEXT,
  "image_url" TEXT,
  "site_name" TEXT,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "message_unfurls_pkey" PRIMARY KEY ("message_id", "url"),
  CONSTRAINT "message_unfurls_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
