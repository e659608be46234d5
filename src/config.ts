import { randomBytes } from 'node:crypto';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';

/**
 * Environment → one typed, validated config. The composition root (app.ts) is the only reader.
 * Adapter choices are discriminated unions, so adding a backend is one new `kind`.
 */
export type DatabaseConfig =
  | { kind: 'pglite'; dataDir: string | null } // null: in memory (tests)
  | { kind: 'postgres'; url: string; poolSize: number };

/** Where search documents are indexed and queried. `language` is a PostgreSQL text search configuration name. */
export type SearchConfig =
  | { kind: 'postgres'; language: string }
  | { kind: 'typesense'; language: string; url: string; apiKey: string; collection: string };

export interface OutboxConfig {
  /** inline: this process consumes the outbox; off: a separate `worker` process does. */
  worker: 'inline' | 'off';
  pollMs: number;
  batchSize: number;
  /** Processed rows older than this are deleted (0 keeps them). */
  retentionHours: number;
}

/** Where file bytes live (src/infra/files): a directory under DATA_DIR, or an S3-compatible bucket. */
export type FileStoreConfig =
  | { kind: 'fs'; root: string }
  | {
      kind: 's3';
      bucket: string;
      region: string;
      endpoint: string | undefined;
      accessKeyId: string;
      secretAccessKey: string;
      forcePathStyle: boolean;
      prefix: string;
    };

export interface FilesConfig {
  store: FileStoreConfig;
  /** HMAC key for the fs store's URLs (random per process when unset outside production). */
  signingSecret: string;
  /** The origin clients reach this server at (fs URLs); null: http://localhost:<port>. */
  publicUrl: string | null;
  maxBytes: number;
  /** Bytes of READY files a workspace may hold (0: no quota). */
  workspaceQuotaBytes: number;
  /** Lifetime of download URLs. */
  urlTtlS: number;
  /** How long a direct upload may take before the sweep deletes it. */
  uploadTtlS: number;
  /** Files of deleted messages are removed from the store after this. */
  retentionHours: number;
  /** Content types refused (exact or `type/*`); checked against the sniffed type. */
  deniedTypes: string[];
  /** When non-empty, only these content types are accepted (exact or `type/*`). */
  allowedTypes: string[];
}

/** Notifications for people who are not looking: suppression and the push providers configured (null: off). */
export interface NotifyConfig {
  /** A user active within this long gets no push ("you're at your desk"). */
  activeSuppressMs: number;
  /** Extra CA certificates (PEM file) trusted for push providers: a private gateway, or loopback fakes in tests. */
  caFile: string | null;
  webPush: { publicKey: string; privateKey: string; subject: string } | null;
  fcm: { serviceAccountFile: string; endpoint: string } | null;
  apns: { keyFile: string; keyId: string; teamId: string; topic: string; host: string } | null;
  /** Email digests over SMTP (null: off): the server URL, the From address, how often digests are looked for. */
  email: { smtpUrl: string; from: string; digestIntervalMs: number } | null;
}

/** Link unfurls (the `unfurls` outbox consumer, src/infra/unfurl/): off, or how pages are fetched. */
export interface UnfurlConfig {
  enabled: boolean;
  /** Whether links may point at private, loopback or link-local addresses (tests, development only). */
  allowPrivate: boolean;
  /** One deadline per link: connect, redirects, headers and body together. */
  timeoutMs: number;
  connectTimeoutMs: number;
  /** Bytes of a page read at most; past this the connection is dropped. */
  maxBytes: number;
  maxRedirects: number;
  /** Links unfurled per message (the first ones in the text). */
  maxPerMessage: number;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  dataDir: string;
  database: DatabaseConfig;
  /** A fixed snowflake worker id, or 'lease' (one is leased from Redis, unique among live processes). */
  workerId: number | 'lease';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  graphql: {
    graphiql: boolean;
    introspection: boolean;
    fieldSuggestions: boolean;
    /** Queries run compiled by graphql-jit (GRAPHQL_JIT, on by default); off: graphql-js executes them. */
    jit: boolean;
    maxTokens: number;
    maxDepth: number;
    maxAliases: number;
    maxDirectives: number;
    maxCost: number;
  };
  auth: { sessionTtlDays: number };
  /** Persisted documents: manifests (sha256 → document), and whether user sessions too must use them. */
  persisted: { manifests: string[]; persistedOnly: boolean; apqMax: number };
  /** Rate limits: off, or rule overrides `<subject>.<class>=<points>/<seconds>` on the built-in tiers. */
  rateLimits: { enabled: boolean; overrides: Record<string, { points: number; seconds: number }> };
  /** Browser origins allowed to call the API with credentials (CORS) and to open the WebSocket. */
  cors: { origins: string[] };
  /** Proxies trusted to name the client address in X-Forwarded-For (per-address rate limits). */
  trustProxy: string[];
  /** Outgoing webhooks: whether callback URLs may point at private or loopback addresses (tests, development). */
  webhooks: { allowPrivate: boolean; maxFailures: number };
  pubsub: { kind: 'memory' } | { kind: 'redis'; urls: string[]; healthIntervalMs: number };
  realtime: {
    badgeFlushMs: number;
    /** Quiet time after which a channel's exact unread counts are sent to members who are not looking. */
    badgeSettleMs: number;
    /** During continuous traffic, how often those exact counts are refreshed at most. */
    badgeRefreshMs: number;
    presenceIdleMs: number;
    presenceOfflineGraceMs: number;
    /** Events a subscription may fall behind before its client is disconnected. */
    subscriptionQueueLimit: number;
  };
  websocket: {
    allowedOrigins: string[];
    maxSubscriptions: number;
    maxBufferedBytes: number;
    keepAliveMs: number;
  };
  limits: { maxMessageLength: number; maxPageSize: number };
  /** The process-wide profile cache: a copy lives this long at most (profile-change events drop it earlier, on every gateway). */
  profileCacheTtlMs: number;
  search: SearchConfig;
  outbox: OutboxConfig;
  notify: NotifyConfig;
  unfurls: UnfurlConfig;
  files: FilesConfig;
  /** SIGTERM/SIGINT: WebSocket clients are closed over `drainMs`; everything stops within `timeoutMs`. */
  shutdown: { drainMs: number; timeoutMs: number };
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).default(4000),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_POOL_SIZE: int(1, 1000).default(10),
  WORKER_ID: int(0, 1023).optional(),
  REDIS_URLS: z
    .string()
    .optional()
    .refine(
      (v) => !v || v.split(',').every((u) => /^rediss?:\/\/[^\s,]+$/.test(u.trim())),
      'must be a comma-separated list of redis:// URLs',
    ),
  REDIS_HEALTH_INTERVAL_MS: int(50, 60_000).default(1_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GRAPHIQL: bool.optional(),
  GRAPHQL_INTROSPECTION: bool.optional(),
  GRAPHQL_FIELD_SUGGESTIONS: bool.optional(),
  GRAPHQL_JIT: bool.default(true),
  GRAPHQL_MAX_TOKENS: int(100, 100_000).default(2_000),
  GRAPHQL_MAX_DEPTH: int(2, 100).default(12),
  GRAPHQL_MAX_ALIASES: int(1, 1000).default(30),
  GRAPHQL_MAX_DIRECTIVES: int(1, 1000).default(30),
  GRAPHQL_MAX_COST: int(100, 1_000_000).default(20_000),
  SESSION_TTL_DAYS: int(1, 3650).default(30),
  PERSISTED_DOCUMENTS: z.string().default(''),
  PERSISTED_ONLY: bool.default(false),
  APQ_MAX_DOCUMENTS: int(0, 1_000_000).default(10_000),
  RATE_LIMITS_ENABLED: bool.optional(),
  RATE_LIMITS: z
    .string()
    .default('')
    .refine(
      (v) => v.split(',').every((r) => !r.trim() || /^[a-z]+\.[a-z]+=\d+\/\d+$/.test(r.trim())),
      'must be a comma-separated list of <subject>.<class>=<points>/<seconds>, e.g. bot.send=30/60',
    ),
  CORS_ORIGINS: z.string().default(''),
  /** Proxies whose X-Forwarded-For is believed for the client address (addresses, CIDRs, loopback...). */
  TRUST_PROXY: z
    .string()
    .default('')
    .refine(
      (v) => {
        try {
          proxyaddr.compile(list(v));
          return true;
        } catch {
          return false;
        }
      },
      { message: 'TRUST_PROXY must list IP addresses, CIDR ranges or loopback/linklocal/uniquelocal' },
    ),
  WEBHOOKS_ALLOW_PRIVATE: bool.optional(),
  WEBHOOK_MAX_FAILURES: int(1, 1000).default(10),
  SEARCH_BACKEND: z.enum(['postgres', 'typesense']).default('postgres'),
  SEARCH_LANGUAGE: z
    .string()
    .regex(/^[a-z_]{1,63}$/, 'must be a text search configuration name such as english, german or simple')
    .default('english'),
  TYPESENSE_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
    .optional(),
  TYPESENSE_API_KEY: z.string().min(1).optional(),
  TYPESENSE_COLLECTION: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only')
    .default('messages'),
  OUTBOX_WORKER: z.enum(['inline', 'off']).default('inline'),
  OUTBOX_POLL_MS: int(10, 60_000).default(200),
  OUTBOX_BATCH_SIZE: int(1, 5_000).default(200),
  OUTBOX_RETENTION_HOURS: int(0, 87_600).default(168),
  NOTIFY_ACTIVE_SUPPRESS_S: int(0, 86_400).default(120),
  UNFURLS: bool.default(true),
  UNFURL_ALLOW_PRIVATE: bool.default(false),
  UNFURL_TIMEOUT_MS: int(50, 60_000).default(5_000),
  UNFURL_CONNECT_TIMEOUT_MS: int(50, 60_000).default(2_000),
  UNFURL_MAX_BYTES: int(1_024, 50 * 1024 * 1024).default(1024 * 1024),
  UNFURL_MAX_REDIRECTS: int(0, 10).default(3),
  UNFURL_MAX_PER_MESSAGE: int(1, 20).default(3),
  PUSH_CA_FILE: z.string().optional(),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'an smtp:// or smtps:// URL')
    .optional(),
  EMAIL_FROM: z.string().default('Chat <no-reply@localhost>'),
  EMAIL_DIGEST_INTERVAL_S: int(1, 86_400).default(60),
  VAPID_PUBLIC_KEY: z.string().optional(),
  VAPID_PRIVATE_KEY: z.string().optional(),
  VAPID_SUBJECT: z.string().default('mailto:admin@localhost'),
  FCM_SERVICE_ACCOUNT_FILE: z.string().optional(),
  FCM_ENDPOINT: z.url().default('https://fcm.googleapis.com'),
  APNS_KEY_FILE: z.string().optional(),
  APNS_KEY_ID: z.string().optional(),
  APNS_TEAM_ID: z.string().optional(),
  APNS_TOPIC: z.string().optional(),
  APNS_HOST: z.url().default('https://api.push.apple.com'),
  FILE_STORE: z.enum(['fs', 's3']).default('fs'),
  FILE_SIGNING_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/]+$/, 'an origin such as https://chat.example.com (no path)')
    .optional(),
  FILE_MAX_BYTES: int(1, 5 * 1024 ** 4).default(100 * 1024 * 1024),
  FILE_WORKSPACE_QUOTA_BYTES: int(0, Number.MAX_SAFE_INTEGER).default(0),
  FILE_URL_TTL_S: int(10, 7 * 86_400).default(300),
  FILE_UPLOAD_TTL_S: int(60, 7 * 86_400).default(3_600),
  FILE_RETENTION_HOURS: int(0, 87_600).default(24),
  FILE_DENIED_TYPES: z.string().default(''),
  FILE_ALLOWED_TYPES: z.string().default(''),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a bucket name')
    .optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ENDPOINT: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
    .optional(),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool.optional(),
  S3_PREFIX: z
    .string()
    .regex(/^([a-z0-9_-]+\/)*$/, 'lowercase path segments ending in /, e.g. chat/')
    .default(''),
  BADGE_FLUSH_MS: int(10, 60_000).default(250),
  BADGE_SETTLE_MS: int(10, 600_000).default(2_000),
  BADGE_REFRESH_MS: int(10, 3_600_000).default(30_000),
  PRESENCE_IDLE_MS: int(1_000, 86_400_000).default(600_000),
  PRESENCE_OFFLINE_GRACE_MS: int(0, 600_000).default(10_000),
  SUBSCRIPTION_QUEUE_LIMIT: int(10, 1_000_000).default(1_000),
  PROFILE_CACHE_TTL_MS: int(0, 3_600_000).default(5_000),
  WS_ALLOWED_ORIGINS: z.string().default(''),
  WS_MAX_SUBSCRIPTIONS: int(1, 10_000).default(100),
  WS_MAX_BUFFERED_BYTES: int(1024, 1024 ** 3).default(4 * 1024 * 1024),
  WS_KEEPALIVE_MS: int(1_000, 600_000).default(12_000),
  SHUTDOWN_DRAIN_MS: int(0, 600_000).default(2_000),
  SHUTDOWN_TIMEOUT_MS: int(100, 3_600_000).default(15_000),
});

const list = (v: string) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.SEARCH_BACKEND === 'typesense' && (!e.TYPESENSE_URL || !e.TYPESENSE_API_KEY)) {
    const missing = ['TYPESENSE_URL', 'TYPESENSE_API_KEY'].filter(
      (k) => !e[k as 'TYPESENSE_URL' | 'TYPESENSE_API_KEY'],
    );
    throw new ConfigError(
      `Invalid configuration:\n${missing.map((k) => `  ${k}: required when SEARCH_BACKEND=typesense`).join('\n')}`,
    );
  }
  const production = e.NODE_ENV === 'production';
  if (e.FILE_STORE === 's3') {
    const missing = (['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const).filter((k) => !e[k]);
    if (missing.length)
      throw new ConfigError(
        `Invalid configuration:\n${missing.map((k) => `  ${k}: required when FILE_STORE=s3`).join('\n')}`,
      );
  }
  if (production && e.FILE_STORE === 'fs' && !e.FILE_SIGNING_SECRET)
    // A random secret per process would make one gateway refuse the URLs another signed.
    throw new ConfigError(
      'Invalid configuration:\n  FILE_SIGNING_SECRET: required when NODE_ENV=production and FILE_STORE=fs (every process must share it)',
    );
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    dataDir: e.DATA_DIR,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE }
      : { kind: 'pglite', dataDir: `${e.DATA_DIR.replace(/\/$/, '')}/pglite` },
    workerId: e.WORKER_ID ?? (e.REDIS_URLS ? 'lease' : 0),
    logLevel: e.LOG_LEVEL,
    graphql: {
      graphiql: e.GRAPHIQL ?? !production,
      // GraphiQL needs introspection: turning GraphiQL on turns it on unless it is set.
      introspection: e.GRAPHQL_INTROSPECTION ?? e.GRAPHIQL ?? !production,
      fieldSuggestions: e.GRAPHQL_FIELD_SUGGESTIONS ?? !production,
      jit: e.GRAPHQL_JIT,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
      maxCost: e.GRAPHQL_MAX_COST,
    },
    auth: { sessionTtlDays: e.SESSION_TTL_DAYS },
    persisted: {
      manifests: list(e.PERSISTED_DOCUMENTS),
      persistedOnly: e.PERSISTED_ONLY,
      apqMax: e.APQ_MAX_DOCUMENTS,
    },
    rateLimits: {
      // Off by default only under NODE_ENV=test (suites that hammer one user); benchmarks turn them off.
      enabled: e.RATE_LIMITS_ENABLED ?? e.NODE_ENV !== 'test',
      overrides: Object.fromEntries(
        list(e.RATE_LIMITS).map((r) => {
          const [key, value] = r.split('=') as [string, string];
          const [points, seconds] = value.split('/').map(Number) as [number, number];
          return [key, { points, seconds }];
        }),
      ),
    },
    cors: { origins: list(e.CORS_ORIGINS) },
    trustProxy: list(e.TRUST_PROXY),
    webhooks: { allowPrivate: e.WEBHOOKS_ALLOW_PRIVATE ?? !production, maxFailures: e.WEBHOOK_MAX_FAILURES },
    pubsub: e.REDIS_URLS
      ? {
          kind: 'redis',
          urls: e.REDIS_URLS.split(',').map((u) => u.trim()),
          healthIntervalMs: e.REDIS_HEALTH_INTERVAL_MS,
        }
      : { kind: 'memory' },
    realtime: {
      badgeFlushMs: e.BADGE_FLUSH_MS,
      badgeSettleMs: e.BADGE_SETTLE_MS,
      badgeRefreshMs: e.BADGE_REFRESH_MS,
      presenceIdleMs: e.PRESENCE_IDLE_MS,
      presenceOfflineGraceMs: e.PRESENCE_OFFLINE_GRACE_MS,
      subscriptionQueueLimit: e.SUBSCRIPTION_QUEUE_LIMIT,
    },
    websocket: {
      // CORS_ORIGINS are allowed on the socket too (one list for both).
      allowedOrigins: [...list(e.WS_ALLOWED_ORIGINS), ...list(e.CORS_ORIGINS)],
      maxSubscriptions: e.WS_MAX_SUBSCRIPTIONS,
      maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
      keepAliveMs: e.WS_KEEPALIVE_MS,
    },
    limits: { maxMessageLength: 40_000, maxPageSize: 100 },
    profileCacheTtlMs: e.PROFILE_CACHE_TTL_MS,
    search:
      e.SEARCH_BACKEND === 'typesense'
        ? {
            kind: 'typesense',
            language: e.SEARCH_LANGUAGE,
            url: e.TYPESENSE_URL!,
            apiKey: e.TYPESENSE_API_KEY!,
            collection: e.TYPESENSE_COLLECTION,
          }
        : { kind: 'postgres', language: e.SEARCH_LANGUAGE },
    outbox: {
      worker: e.OUTBOX_WORKER,
      pollMs: e.OUTBOX_POLL_MS,
      batchSize: e.OUTBOX_BATCH_SIZE,
      retentionHours: e.OUTBOX_RETENTION_HOURS,
    },
    notify: {
      activeSuppressMs: e.NOTIFY_ACTIVE_SUPPRESS_S * 1000,
      caFile: e.PUSH_CA_FILE ?? null,
      email: e.SMTP_URL
        ? { smtpUrl: e.SMTP_URL, from: e.EMAIL_FROM, digestIntervalMs: e.EMAIL_DIGEST_INTERVAL_S * 1000 }
        : null,
      webPush: both('VAPID_PUBLIC_KEY', e.VAPID_PUBLIC_KEY, 'VAPID_PRIVATE_KEY', e.VAPID_PRIVATE_KEY)
        ? { publicKey: e.VAPID_PUBLIC_KEY!, privateKey: e.VAPID_PRIVATE_KEY!, subject: e.VAPID_SUBJECT }
        : null,
      fcm: e.FCM_SERVICE_ACCOUNT_FILE
        ? { serviceAccountFile: e.FCM_SERVICE_ACCOUNT_FILE, endpoint: e.FCM_ENDPOINT }
        : null,
      apns:
        e.APNS_KEY_FILE && e.APNS_KEY_ID && e.APNS_TEAM_ID && e.APNS_TOPIC
          ? {
              keyFile: e.APNS_KEY_FILE,
              keyId: e.APNS_KEY_ID,
              teamId: e.APNS_TEAM_ID,
              topic: e.APNS_TOPIC,
              host: e.APNS_HOST,
            }
          : null,
    },
    unfurls: {
      enabled: e.UNFURLS,
      // Only ever by the explicit setting: any member can make the server fetch a link they write.
      allowPrivate: e.UNFURL_ALLOW_PRIVATE,
      timeoutMs: e.UNFURL_TIMEOUT_MS,
      connectTimeoutMs: Math.min(e.UNFURL_CONNECT_TIMEOUT_MS, e.UNFURL_TIMEOUT_MS),
      maxBytes: e.UNFURL_MAX_BYTES,
      maxRedirects: e.UNFURL_MAX_REDIRECTS,
      maxPerMessage: e.UNFURL_MAX_PER_MESSAGE,
    },
    files: {
      store:
        e.FILE_STORE === 's3'
          ? {
              kind: 's3',
              bucket: e.S3_BUCKET!,
              region: e.S3_REGION,
              endpoint: e.S3_ENDPOINT,
              accessKeyId: e.S3_ACCESS_KEY_ID!,
              secretAccessKey: e.S3_SECRET_ACCESS_KEY!,
              forcePathStyle: e.S3_FORCE_PATH_STYLE ?? Boolean(e.S3_ENDPOINT),
              prefix: e.S3_PREFIX,
            }
          : { kind: 'fs', root: `${e.DATA_DIR.replace(/\/$/, '')}/files` },
      signingSecret: e.FILE_SIGNING_SECRET ?? randomBytes(32).toString('hex'),
      publicUrl: e.PUBLIC_URL ?? null,
      maxBytes: e.FILE_MAX_BYTES,
      workspaceQuotaBytes: e.FILE_WORKSPACE_QUOTA_BYTES,
      urlTtlS: e.FILE_URL_TTL_S,
      uploadTtlS: e.FILE_UPLOAD_TTL_S,
      retentionHours: e.FILE_RETENTION_HOURS,
      deniedTypes: e.FILE_DENIED_TYPES.split(',')
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean),
      allowedTypes: e.FILE_ALLOWED_TYPES.split(',')
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean),
    },
    shutdown: { drainMs: e.SHUTDOWN_DRAIN_MS, timeoutMs: e.SHUTDOWN_TIMEOUT_MS },
  };
}

/** Two variables that are set together or not at all. */
function both(nameA: string, a: string | undefined, nameB: string, b: string | undefined): boolean {
  if (Boolean(a) !== Boolean(b))
    throw new ConfigError(`${a ? nameB : nameA} must be set together with ${a ? nameA : nameB}`);
  return Boolean(a);
}
