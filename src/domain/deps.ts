import type { Config } from '../config.js';
import type { PrismaClient } from '../infra/db/database.js';
import type { IdGenerator } from '../infra/ids/snowflake.js';
import type { EventPublisher } from '../realtime/events.js';

/** What domain services are built from; assembled once in the composition root (src/app.ts). */
export interface ServiceDeps {
  prisma: PrismaClient;
  ids: IdGenerator;
  events: EventPublisher;
  limits: Config['limits'];
  auth: Config['auth'];
  /** Which of these users are online now (for @here); the presence service answers. */
  onlineAmong(userIds: bigint[]): Promise<bigint[]>;
}
