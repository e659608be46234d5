import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createDatabase, type Database } from './infra/db/database.js';
import { migrate } from './infra/db/migrator.js';
import { createSnowflake } from './infra/ids/snowflake.js';
import { createServices, type Services } from './domain/services.js';
import { createLocalPublisher } from './realtime/events.js';
import { schema } from './graphql/schema.js';
import { createGraphQLHandler } from './gateway/yoga.js';
import { createLogger, type Logger } from './logger.js';

export interface App {
  config: Config;
  log: Logger;
  db: Database;
  services: Services;
  events: ReturnType<typeof createLocalPublisher>;
  handler: ReturnType<typeof createGraphQLHandler>;
  server: Server;
  /** Listens on config.host:config.port (0 = any free port); resolves with the GraphQL URL. */
  start(): Promise<{ url: string; port: number }>;
  stop(): Promise<void>;
}

/**
 * The composition root: the only place that reads config and chooses implementations.
 * Builds adapters (database, ids, events), migrates, wires services and the GraphQL handler.
 */
export async function buildApp(config: Config, opts: { log?: Logger } = {}): Promise<App> {
  const log = opts.log ?? createLogger(config);
  const db = await createDatabase(config.database);
  try {
    const result = await migrate(db);
    if (result.applied.length) log.info({ applied: result.applied }, 'migrations applied');
  } catch (err) {
    await db.close();
    throw err;
  }
  log.info({ database: db.kind, workerId: config.workerId, pubsub: 'local' }, 'adapters chosen');

  const events = createLocalPublisher();
  const services = createServices({
    prisma: db.prisma,
    ids: createSnowflake(config.workerId),
    events,
    limits: config.limits,
    auth: config.auth,
    onlineChannelMembers: async () => [], // presence arrives with the real-time layer
  });
  const handler = createGraphQLHandler({ config, schema, services, prisma: db.prisma, log });
  const server = createServer(handler);

  let stopped = false;
  return {
    config,
    log,
    db,
    services,
    events,
    handler,
    server,
    start() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          const { port } = server.address() as AddressInfo;
          const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
          resolve({ url: `http://${host}:${port}/graphql`, port });
        });
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (server.listening) {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
      await db.close();
    },
  };
}
