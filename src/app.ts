import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, type Config } from './config.js';
import { createDatabase, type Database } from './infra/db/database.js';
import { migrate } from './infra/db/migrator.js';
import { createSnowflake } from './infra/ids/snowflake.js';
import { createServices, type Services } from './domain/services.js';
import type { ServiceDeps } from './domain/deps.js';
import { schema } from './graphql/schema.js';
import { createGraphQLHandler, CSRF_HEADERS } from './gateway/yoga.js';
import { createMultipartHandler, isMultipart } from './gateway/uploads.js';
import { bearerToken, createContextFactory } from './gateway/context.js';
import { createLoaders, type LoaderShared } from './graphql/loaders.js';
import { createPageJoins } from './domain/messages/page-joins.js';
import { attachWebSocket } from './gateway/ws.js';
import { createAdmission } from './gateway/admission.js';
import { createClientIp } from './gateway/client-ip.js';
import { createPersistedDocuments } from './gateway/persisted.js';
import { explainLimits, reportCost } from './gateway/limits-explained.js';
import { registerHookRoutes } from './gateway/hooks.js';
import { createHttpWebhookSender } from './infra/webhooks/http.sender.js';
import { createRateLimits } from './gateway/rate-limit.js';
import { createMemoryRateLimitStore, createRedisRateLimitStore } from './infra/ratelimit/rate-limit.store.js';
import { createLogger, type Logger } from './logger.js';
import { createMemoryBroker } from './infra/pubsub/memory.broker.js';
import type { Broker } from './infra/pubsub/broker.port.js';
import { createBrokerPublisher } from './realtime/publisher.js';
import { createHub } from './realtime/hub.js';
import { watchRevocations } from './realtime/revocations.js';
import { createChannelFeed, createProfileFeed } from './realtime/channel-feed.js';
import { createMemoryPresence } from './infra/presence/presence.memory.js';
import type { Presence } from './infra/presence/presence.port.js';
import { createRedisPresence } from './infra/presence/presence.redis.js';
import { createRedisRingBroker } from './infra/pubsub/redis-ring.broker.js';
import { leaseWorkerId, type WorkerLease } from './infra/ids/worker-lease.js';
import type { EventPublisher } from './domain/events/events.js';
import { randomUUID } from 'node:crypto';
import { createBadgeManager } from './realtime/badges.js';
import { createStreams, type StreamDeps } from './realtime/streams.js';
import type { Realtime } from './realtime/realtime.js';
import { createSearchIndex } from './infra/search/search-index.js';
import { withSearchLogging } from './infra/search/logged.search.js';
import type { SearchIndex } from './infra/search/search-index.port.js';
import { OUTBOX_KINDS } from './domain/webhooks/outgoing.service.js';
import { createOutboxRegistry, type OutboxRegistry } from './infra/outbox/registry.js';
import { createNotifier, notifyPresenceOf } from './domain/notifications/notifier.js';
import { createPushSender } from './infra/push/push.factory.js';
import { createDigests, type Digests } from './domain/notifications/digests.js';
import { createSmtpMailer } from './infra/mail/smtp.mailer.js';
import { createHttpLifecycle, createHttpSubscriptions } from './gateway/lifecycle.js';
import { createOps } from './gateway/ops.js';
import { createHttpRouter, type HttpRouter } from './gateway/http.js';
import { createFileStore } from './infra/files/file-store.js';
import type { FileStore } from './infra/files/file-store.port.js';
import { createPreviewConsumer } from './domain/files/previews.js';
import { createUnfurlConsumer } from './domain/messages/unfurls.js';
import { createUnfurlFetcher } from './infra/unfurl/unfurl.fetcher.js';

export interface App {
  config: Config;
  log: Logger;
  db: Database;
  services: Services;
  realtime: Realtime;
  searchIndex: SearchIndex;
  /** The outbox consumers (search, previews, ...); start() runs them when OUTBOX_WORKER=inline (`main.ts worker` runs them alone). */
  outbox: OutboxRegistry;
  /** Email digests (null without SMTP_URL); they run where the notification consumer runs. */
  digests: Digests | null;
  /** Every HTTP route: /graphql and /health (yoga), /files/... */
  router: HttpRouter;
  /** Where file bytes live (FILE_STORE). */
  fileStore: FileStore;
  handler: ReturnType<typeof createGraphQLHandler>;
  websocket: ReturnType<typeof attachWebSocket>;
  server: Server;
  /** /ready, /metrics and the request log (src/gateway/ops.ts). */
  ops: ReturnType<typeof createOps>;
  /** Listens on config.host:config.port (0 = any free port); resolves with the GraphQL URL. */
  start(): Promise<{ url: string; port: number }>;
  /**
   * Graceful stop (SIGTERM): readiness 503 and the listener closed at once, WebSocket clients
   * closed with 1012 spread over SHUTDOWN_DRAIN_MS, in-flight requests answered, the outbox
   * worker's batch finished, then everything closed. Gives up waiting at SHUTDOWN_TIMEOUT_MS.
   */
  stop(): Promise<void>;
}

/**
 * The composition root: the only place that reads config and chooses implementations.
 * Builds adapters (database, ids, events), migrates, wires services and the GraphQL handler.
 */
export async function buildApp(
  config: Config,
  opts: {
    log?: Logger;
    /** Wraps the search index (tests inject faults here). */ decorateSearchIndex?: (index: SearchIndex) => SearchIndex;
    /** Seams a test holds to force an interleaving (see ServiceDeps and StreamDeps); never set in production. */
    testHooks?: NonNullable<ServiceDeps['testHooks']> & NonNullable<StreamDeps['testHooks']>;
  } = {},
): Promise<App> {
  const log = opts.log ?? createLogger(config);
  const db = await createDatabase(config.database, log);
  try {
    const result = await migrate(db);
    if (result.applied.length) log.info({ applied: result.applied }, 'migrations applied');
  } catch (err) {
    await db.close();
    throw err;
  }
  const gatewayId = randomUUID();
  const { broker, presenceFor, lease, rateLimitStore } = await createPubSub(config, log, gatewayId).catch(
    async (err) => {
      await db.close();
      throw err;
    },
  );
  const workerId = lease?.workerId ?? (config.workerId as number);
  log.info(
    { database: db.kind, workerId, pubsub: broker.kind, search: config.search.kind, outbox: config.outbox.worker },
    'adapters chosen',
  );

  const publisher = createBrokerPublisher(broker, log);
  const presence = presenceFor(publisher);
  const baseIndex = createSearchIndex(config.search, { prisma: db.prisma });
  const searchIndex = withSearchLogging(
    opts.decorateSearchIndex ? opts.decorateSearchIndex(baseIndex) : baseIndex,
    log,
  );
  try {
    await searchIndex.init();
  } catch (err) {
    // A bad language is a configuration error; an unreachable Typesense is not fatal: writes wait in the outbox.
    if (config.search.kind === 'postgres') {
      await db.close();
      throw err;
    }
    log.warn({ err, search: config.search.kind }, 'search index not reachable at start; indexing will catch up');
  }
  const hub = createHub(broker, log);
  // The read caches hear each channel they hold through the hub, and this process's publishes at once.
  const channelFeed = createChannelFeed(hub, publisher);
  // Files: bytes in the fs or s3 store (FILE_STORE); fs URLs point at this server's /files/blob route.
  let publicOrigin = config.files.publicUrl ?? `http://localhost:${config.port}`;
  const fileStore = createFileStore(config.files.store, {
    signingSecret: config.files.signingSecret,
    baseUrl: () => publicOrigin,
  });
  const services = createServices({
    webhooks: {
      sender: createHttpWebhookSender({ allowPrivate: config.webhooks.allowPrivate }),
      maxFailures: config.webhooks.maxFailures,
    },
    files: { store: fileStore.store, config: config.files },
    prisma: db.prisma,
    rawQuery: db.rawQuery,
    ids: createSnowflake(workerId),
    events: channelFeed.events,
    channelFeed: channelFeed.feed,
    profileFeed: createProfileFeed(hub),
    profileCacheTtlMs: config.profileCacheTtlMs,
    limits: config.limits,
    auth: config.auth,
    searchIndex,
    onlineAmong: async (userIds) => (await presence.onlineAmong(userIds.map(String))).map(BigInt),
    testHooks: opts.testHooks,
  });
  // Credentials revoked on any gateway leave this one's token cache as soon as it hears of them.
  // A revoked token stops working at once on every gateway: new requests (the token cache) and the
  // sockets it opened (closed with 4403).
  const revocations = watchRevocations(hub, services.auth, log, undefined, (hashes) => websocket?.closeRevoked(hashes));
  const queueLimit = config.realtime.subscriptionQueueLimit;
  const realtime: Realtime = {
    broker,
    hub,
    presence,
    badges: createBadgeManager(
      { hub, badges: services.badges, log },
      {
        flushMs: config.realtime.badgeFlushMs,
        settleMs: config.realtime.badgeSettleMs,
        refreshMs: config.realtime.badgeRefreshMs,
        queueLimit,
      },
    ),
    streams: createStreams({
      hub,
      sources: {
        accessChannel: services.channels.accessChannel,
        accessMessage: services.messages.accessMessage,
        resumeSeq: services.messages.resumeSeq,
        channelSeq: services.messages.channelSeq,
        replayBySeq: services.messages.replayBySeq,
        thread: services.messages.thread,
        requireVisibleUsers: async (viewer, ids) => void (await services.users.requireVisible(viewer, ids)),
      },
      presence,
      queueLimit,
      testHooks: opts.testHooks,
    }),
  };
  const loaderShared: LoaderShared = {
    profiles: (ids) => services.users.profiles(ids),
    joins: createPageJoins(db.rawQuery),
  };
  const contexts = createContextFactory({
    services,
    realtime,
    loadersFor: (viewer) => createLoaders(db.prisma, viewer, loaderShared),
  });
  const admission = createAdmission({
    contexts,
    persisted: createPersistedDocuments(config.persisted),
    limits: config.rateLimits.enabled ? createRateLimits(rateLimitStore, config.rateLimits, log) : null,
    clientIp: createClientIp(config.trustProxy),
  });
  let websocket: ReturnType<typeof attachWebSocket> | null = null;
  let outbox: OutboxRegistry | null = null;
  let draining = false;
  const ops = createOps({
    log,
    draining: () => draining,
    checks: {
      database: async () => (await db.prisma.$queryRaw`SELECT 1`, 'ok'),
      pubsub: () => {
        const h = broker.health?.();
        if (h && h.up === 0) return Promise.reject(new Error(`no redis shard on the ring (0/${h.total})`));
        return Promise.resolve(h ? `${h.up}/${h.total} shards` : broker.kind);
      },
    },
    degradable: { search: () => searchIndex.ping() },
    sources: {
      wsConnections: () => websocket?.stats().connections ?? 0,
      httpInFlight: () => lifecycle.inFlight(),
      hub: () => hub.stats(),
      frames: () => {
        const w = websocket?.stats();
        return {
          badge: realtime.badges.stats().framesSent,
          direct: w?.directFrames ?? 0,
          slowDisconnects: w?.slowDisconnects ?? 0,
        };
      },
      shards: () => broker.health?.() ?? null,
      outbox: async () => (outbox ? outbox.lag() : null),
      dbPool: () => db.pool?.() ?? null,
    },
  });
  const httpSubscriptions = createHttpSubscriptions();
  const handler = createGraphQLHandler({
    config,
    schema,
    contexts,
    realtime,
    log,
    instrumentation: [...ops.plugins, httpSubscriptions.plugin],
    callerOf: admission.callerOf,
    plugins: [
      ...admission.httpPlugins(),
      explainLimits(config.limits.maxPageSize, config.graphql.maxCost),
      reportCost(config.graphql.maxCost),
    ],
  });
  const router = createHttpRouter(log);
  // Incoming webhooks: POST /hooks/<secret>, rate limited per hook (RATE_LIMITS hook.send).
  const hookRule = { name: 'hook-send', ...(config.rateLimits.overrides['hook.send'] ?? { points: 60, seconds: 60 }) };
  registerHookRoutes(router, {
    hooks: services.incomingWebhooks,
    limit: (id) =>
      config.rateLimits.enabled
        ? rateLimitStore.consume(hookRule, `hook:${id}`)
        : Promise.resolve({ allowed: true, remaining: hookRule.points, resetMs: 0 }),
    log,
  });
  // GraphQL multipart uploads are parsed here, streaming each file into the store, before yoga.
  const multipart = createMultipartHandler({
    maxFileBytes: config.files.maxBytes,
    csrfHeaders: CSRF_HEADERS,
    viewerFor: (token) => contexts.viewerFor(token),
    bearer: (header) => bearerToken(header),
    stage: (viewer, part) => services.files.stageUpload(viewer, part),
    drop: (staged) => services.files.dropStaged(staged),
    graphql: (request, serverContext) => handler.fetch(request, serverContext),
    log,
  });
  router.route(['GET', 'POST', 'OPTIONS'], '/graphql', (req, res) =>
    req.method === 'POST' && isMultipart(req) ? multipart(req, res) : handler(req, res),
  );
  router.route(['GET', 'HEAD'], '/health', (req, res) => handler(req, res));
  router.route('GET', '/ready', ops.readyRoute);
  router.route('GET', '/metrics', ops.metricsRoute);
  if (fileStore.fs) {
    const fs = fileStore.fs;
    router.route(['GET', 'HEAD', 'PUT'], '/files/blob/*', (req, res, r) =>
      fs.serve(req, res, r.params['*'] ?? '', r.query),
    );
  }
  const server = createServer(ops.wrap(router.listener));
  // Idle keep-alive connections live 65 s (Node's default is 5 s). A proxy or client that keeps
  // connections open longer than the server (nginx, load balancers: 60 s) sends its next request
  // just as the server closes the socket and gets a reset; 65 s outlasts them, and clients that
  // read the Keep-Alive hint (undici) retire their sockets before the server does.
  server.keepAliveTimeout = 65_000;
  const lifecycle = createHttpLifecycle(server);
  // The outbox worker gets connections of its own on PostgreSQL (a bulkhead): requests queueing
  // for the main pool under load must not delay indexing. PGlite has one connection anyway.
  const workerDb =
    config.database.kind === 'postgres' ? await createDatabase({ ...config.database, poolSize: 2 }, log) : db;
  const workerIndex =
    workerDb === db
      ? searchIndex
      : withSearchLogging(
          (opts.decorateSearchIndex ?? ((i: SearchIndex) => i))(
            createSearchIndex(config.search, { prisma: workerDb.prisma }),
          ),
          log,
        );
  // Outbox consumers: each retries on its own (registry.ts says how to add one).
  outbox = createOutboxRegistry({
    prisma: workerDb.prisma,
    log: log.child({ component: 'outbox' }),
    batchSize: config.outbox.batchSize,
    pollMs: config.outbox.pollMs,
    retentionHours: config.outbox.retentionHours,
  });
  const searchHandlers = services.search.outboxHandlers({ prisma: workerDb.prisma, searchIndex: workerIndex });
  outbox.register({
    name: 'search',
    kinds: Object.keys(searchHandlers),
    handle: (events) => searchHandlers[events[0]!.kind]!(events),
  });
  // Thumbnails, dimensions and text snippets of READY files (src/domain/files/previews.ts).
  outbox.register(
    createPreviewConsumer({
      prisma: workerDb.prisma,
      store: fileStore.store,
      events: channelFeed.events,
      log: log.child({ component: 'previews' }),
    }),
  );
  // Link previews of new and edited messages, fetched off the send path (src/domain/messages/unfurls.ts).
  const unfurls = config.unfurls.enabled
    ? createUnfurlConsumer({
        prisma: workerDb.prisma,
        events: channelFeed.events,
        fetcher: createUnfurlFetcher(config.unfurls, log.child({ component: 'unfurls' })),
        log: log.child({ component: 'unfurls' }),
        maxPerMessage: config.unfurls.maxPerMessage,
      })
    : null;
  if (unfurls) outbox.register(unfurls);
  // Abandoned uploads and deleted messages' files leave the store (with the inline outbox worker).
  let sweepTimer: NodeJS.Timeout | null = null;
  const sweepFiles = () =>
    services.files.sweep().then(
      (r) => (r.abandoned || r.deleted ? log.info(r, 'file sweep') : undefined),
      (err: unknown) => log.warn({ err }, 'file sweep failed'),
    );
  // Notifications for people who are not looking (push): decided and sent off the real-time path.
  const push = createPushSender(config.notify, log);
  const email = config.notify.email;
  const mailer = email ? createSmtpMailer(email) : null;
  const notifier = createNotifier({
    prisma: workerDb.prisma,
    presence: notifyPresenceOf(presence),
    push,
    log: log.child({ component: 'notify' }),
    activeSuppressMs: config.notify.activeSuppressMs,
    recordEmail: mailer !== null,
  });
  const digests =
    email && mailer
      ? createDigests({
          prisma: workerDb.prisma,
          presence,
          mailer,
          log: log.child({ component: 'digests' }),
          intervalMs: email.digestIntervalMs,
        })
      : null;
  // Outgoing events: signed deliveries to bots' callback URLs (domain/webhooks/outgoing.service.ts).
  outbox.register({
    name: 'webhooks',
    kinds: OUTBOX_KINDS,
    handle: (events) => services.eventSubscriptions.handle(events),
  });
  outbox.register({
    name: 'notifications',
    kinds: ['message.posted'],
    handle: (events) => {
      digests?.start(); // digests run in the processes that run this consumer (inline or `npm run worker`)
      return notifier.handle(events);
    },
  });
  websocket = attachWebSocket({ server, yoga: handler, config, contexts, realtime, log, admission });

  let stopped = false;
  return {
    config,
    log,
    db,
    services,
    realtime,
    searchIndex,
    outbox,
    digests,
    router,
    ops,
    handler,
    websocket,
    server,
    fileStore: fileStore.store,
    async start() {
      // Serve once revocations are heard (or after a bounded wait: meanwhile tokens are cached briefly).
      await Promise.race([revocations.ready, new Promise((r) => setTimeout(r, 2_000).unref())]);
      if (config.outbox.worker === 'inline') {
        outbox.start();
        sweepTimer = setInterval(() => void sweepFiles(), 60_000);
        sweepTimer.unref();
      }
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          const { port } = server.address() as AddressInfo;
          const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
          if (!config.files.publicUrl) publicOrigin = `http://${host}:${port}`;
          resolve({ url: `http://${host}:${port}/graphql`, port });
        });
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (sweepTimer) clearInterval(sweepTimer);
      const { drainMs, timeoutMs } = config.shutdown;
      const deadline = Date.now() + timeoutMs - 500;
      draining = true;
      // Readiness 503 and no new connections at once; requests in progress go on being answered.
      const requests = lifecycle.drain(deadline);
      await websocket.close({ code: 1012, reason: 'Service restart', spreadMs: drainMs });
      // Event streams over HTTP complete (yoga sends `complete`); what has not ended soon is cut.
      httpSubscriptions.completeAll();
      await lifecycle.streamsEnded(1_000);
      lifecycle.cutStreams();
      const { unfinished } = await requests;
      if (unfinished) log.warn({ unfinished }, 'shutdown: requests still running at the deadline are cut');
      lifecycle.closeAll();
      await unfurls?.close(); // fetches in progress are aborted; their events are retried by the next run
      await outbox.stop();
      await push.close();
      await digests?.stop();
      await mailer?.close();
      if (workerDb !== db) {
        await workerIndex.close();
        await workerDb.close();
      }
      realtime.badges.close();
      revocations.stop();
      presence.close();
      await publisher.flush();
      await lease?.release();
      await broker.close();
      await searchIndex.close();
      await fileStore.store.close();
      await db.close();
    },
  };
}

/**
 * The one switch on the pub/sub engine's kind. The engine decides where presence lives (this
 * process, or each user's Redis shard) and where the snowflake worker id comes from.
 */
async function createPubSub(config: Config, log: Logger, gatewayId: string) {
  const presenceOpts = {
    idleMs: config.realtime.presenceIdleMs,
    offlineGraceMs: config.realtime.presenceOfflineGraceMs,
  };
  switch (config.pubsub.kind) {
    case 'memory':
      if (config.workerId === 'lease') throw new ConfigError('WORKER_ID=lease needs REDIS_URLS');
      return {
        broker: createMemoryBroker() as Broker,
        rateLimitStore: createMemoryRateLimitStore(),
        presenceFor: (events: EventPublisher): Presence => createMemoryPresence(events, presenceOpts),
        lease: null,
      };
    case 'redis': {
      const ring = createRedisRingBroker(config.pubsub.urls, { log, healthIntervalMs: config.pubsub.healthIntervalMs });
      let lease: WorkerLease | null = null;
      try {
        await ring.ready();
      } catch (err) {
        await ring.close();
        throw err;
      }
      if (config.workerId === 'lease') {
        try {
          lease = await leaseWorkerId(
            () => ring.clientFor('worker-ids'),
            gatewayId,
            (err) => {
              // Two processes could now make the same ids: stop taking writes rather than risk it.
              log.fatal({ err }, 'snowflake worker id lease lost; exiting');
              process.exit(1);
            },
          );
        } catch (err) {
          await ring.close();
          throw err;
        }
      }
      return {
        broker: ring as Broker,
        // Rate-limit counters on the shard that owns each key: shared by every gateway.
        rateLimitStore: createRedisRateLimitStore((key) => ring.clientFor(key)),
        presenceFor: (events: EventPublisher): Presence =>
          createRedisPresence((userId) => ring.clientFor(userId), events, log, { ...presenceOpts, gatewayId }),
        lease,
      };
    }
    default:
      throw new ConfigError(`unknown pubsub kind ${(config.pubsub as { kind: string }).kind}`);
  }
}
