import type { Config } from '../config.js';
import type { PrismaClient, RawQuery } from '../infra/db/database.js';
import type { IdGenerator } from '../infra/ids/snowflake.js';
import type { EventPublisher } from './events/events.js';
import type { WebhookSender } from './webhooks/outgoing.service.js';
import type { SearchIndex } from '../infra/search/search-index.port.js';
import type { FileStore } from '../infra/files/file-store.port.js';
import type { ChannelCacheOptions, ChannelFeed } from './channels/channel-cache.js';
import type { ProfileFeed } from './users/users.service.js';

/** What domain services are built from; assembled once in the composition root (src/app.ts). */
export interface ServiceDeps {
  prisma: PrismaClient;
  /** The hot statements (a plain send) outside Prisma's query path; the database port chooses how. */
  rawQuery: RawQuery;
  ids: IdGenerator;
  events: EventPublisher;
  limits: Config['limits'];
  auth: Config['auth'];
  /** Where search documents go and searches run (postgres | typesense), chosen by app.ts. */
  searchIndex: SearchIndex;
  /** Where file bytes live (fs | s3, chosen by app.ts) and the upload limits. */
  files?: { store: FileStore; config: Config['files'] };
  /**
   * What happens in a channel, as this process hears it (its own publishes included): keeps the
   * read caches current. Without it nothing is cached (reads are still coalesced).
   */
  channelFeed?: ChannelFeed | null;
  /** Where this process hears other processes' profile changes (keeps the profile cache current). */
  profileFeed?: ProfileFeed | null;
  /** How long a cached profile lives at most (default 5 s). */
  profileCacheTtlMs?: number;
  /** Bounds of the per-process read cache (defaults in channels.service). */
  readCache?: Partial<ChannelCacheOptions>;
  /** Which of these users are online now (for @here); the presence service answers. */
  onlineAmong(userIds: bigint[]): Promise<bigint[]>;
  /**
   * Seams a test can hold to force an interleaving (a barrier it releases later); never set in
   * production. `beforeSendWrite` runs after a send has its id and passed its checks, before it writes.
   */
  /** Outgoing events: how deliveries are sent (an adapter chosen by app.ts) and when a failing subscription is disabled. */
  webhooks?: { sender: WebhookSender | null; maxFailures: number };
  testHooks?: {
    beforeSendWrite?(send: { id: bigint; nonce: string | null; channelId: bigint }): Promise<void>;
  };
}
