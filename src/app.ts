import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createDatabase, type Database } from './infra/db/database.js';
import { migrate } from './infra/db/migrator.js';
import { createSnowflake } from './infra/ids/snowflake.js';
import { createServices, type Services } from './domain/services.js';
import { schema } from './graphql/schema.js';
import { createGraphQLHandler } from './gateway/yoga.js';
import { attachWebSocket } from './gateway/ws.js';
import { createLogger, type Logger } from './logger.js';
import { createMemoryBroker } from './infra/pubsub/memory.broker.js';
import type { Broker } from './infra/pubsub/broker.port.js';
import { createBrokerPublisher } from './realtime/publisher.js';
import { createHub } from './realtime/hub.js';
import { createPresence } from './realtime/presence.js';
import { createBadgeManager } from './realtime/badges.js';
import { createStreams } from './realtime/streams.js';
import type { Realtime } from './realtime/realtime.js';

export interface App {
  config: Config;
  log: Logger;
  db: Database;
  services: Services;
  realtime: Realtime;
  handler: ReturnType<typeof createGraphQLHandler>;
  websocket: ReturnType<typeof attachWebSocket>;
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
  const broker = createBroker(config);
  log.info({ database: db.kind, workerId: config.workerId, pubsub: broker.kind }, 'adapters chosen');

  const publisher = createBrokerPublisher(broker, log);
  const presence = createPresence(publisher, {
    idleMs: config.realtime.presenceIdleMs,
    offlineGraceMs: config.realtime.presenceOfflineGraceMs,
  });
  const services = createServices({
    prisma: db.prisma,
    ids: createSnowflake(config.workerId),
    events: publisher,
    limits: config.limits,
    auth: config.auth,
    onlineAmong: async (userIds) => presence.onlineAmong(userIds.map(String)).map(BigInt),
  });
  const hub = createHub(broker, log);
  const queueLimit = config.realtime.subscriptionQueueLimit;
  const realtime: Realtime = {
    broker,
    hub,
    presence,
    badges: createBadgeManager({ hub, badges: services.badges, log }, { flushMs: config.realtime.badgeFlushMs, queueLimit }),
    streams: createStreams({ hub, services, presence, queueLimit }),
  };
  const handler = createGraphQLHandler({ config, schema, services, prisma: db.prisma, realtime, log });
  const server = createServer(handler);
  const websocket = attachWebSocket({ server, yoga: handler, config, services, prisma: db.prisma, realtime, log });

  let stopped = false;
  return {
    config,
    log,
    db,
    services,
    realtime,
    handler,
    websocket,
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
      await websocket.close();
      realtime.badges.close();
      presence.close();
      await publisher.flush();
      await broker.close();
      if (server.listening) {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
      await db.close();
    },
  };
}

/** The one switch on the pub/sub engine's kind. */
function createBroker(config: Config): Broker {
  switch (config.pubsub.kind) {
    case 'memory':
      return createMemoryBroker();
    default:
      throw new Error(`unknown pubsub kind ${(config.pubsub as { kind: string }).kind}`);
  }
}
