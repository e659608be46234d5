import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { getOperationAST, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { logContext, type Logger, type RequestLogFields } from '../logger.js';
import { sendJson } from './http.js';

/** What /ready checks: each returns a short status or throws (a failed check makes /ready 503). */
export type ReadinessCheck = () => Promise<string>;

/** Numbers read when Prometheus scrapes (no bookkeeping on the hot path). */
export interface MetricSources {
  wsConnections(): number;
  httpInFlight(): number;
  hub(): { topics: number; listeners: number; brokerTopics: number; delivered: number };
  /** Frames written by subscriptions, and slow consumers disconnected (this process, since start). */
  frames(): { badge: number; direct: number; slowDisconnects: number };
  shards(): { up: number; total: number; failovers: number } | null;
  outbox(): Promise<{ pending: number; retrying: number; lagMs: number } | null>;
  dbPool(): { total: number; idle: number; waiting: number } | null;
}

/** Stops a check that hangs from holding /ready (a probe wants an answer, not a timeout). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

/**
 * Operations endpoints and instrumentation: `/ready` (readiness), `/metrics` (Prometheus, one
 * registry per app), a request id on every request (taken from `x-request-id` or made up, echoed
 * back, on every log line written while the request runs) and one access line per request.
 * `/health` (liveness) stays yoga's: it answers as long as the process serves HTTP.
 */
export function createOps(deps: {
  log: Logger;
  draining: () => boolean;
  checks: Record<string, ReadinessCheck>;
  /**
   * Checks of dependencies the gateway can serve without (search): a failure is reported as
   * `degraded: <reason>` and listed under `degraded`, but /ready stays 200. Every gateway shares
   * the backend, so taking them all out of rotation would turn a search outage into a total one.
   */
  degradable?: Record<string, ReadinessCheck>;
  sources: MetricSources;
}) {
  const { log } = deps;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });

  const errors = new Counter({
    name: 'chat_graphql_errors_total',
    help: 'GraphQL errors returned over HTTP, by extensions.code',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const gauge = (name: string, help: string, read: () => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v !== null) this.set(v);
      },
    });
  const s = deps.sources;
  gauge('chat_ws_connections', 'Open WebSocket connections', () => s.wsConnections());
  gauge('chat_http_requests_in_flight', 'HTTP requests being answered', () => s.httpInFlight());
  gauge('chat_subscriptions', 'Live subscription listeners on this process', () => s.hub().listeners);
  gauge('chat_pubsub_topics', 'Topics this process is subscribed to upstream', () => s.hub().brokerTopics);
  new Counter({
    name: 'chat_realtime_deliveries_total',
    help: 'Events handed to subscription listeners (one per listener per event)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(s.hub().delivered);
    },
  });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter(
    'chat_badge_frames_total',
    'Badge frames sent (passive sessions: only what changes a sidebar)',
    () => s.frames().badge,
  );
  counter(
    'chat_realtime_direct_frames_total',
    'Frames written on the direct path (from the hub callback, no per-subscriber queue)',
    () => s.frames().direct,
  );
  counter(
    'chat_ws_slow_disconnects_total',
    'Sockets closed with 1013 because the client stopped reading',
    () => s.frames().slowDisconnects,
  );
  gauge('chat_db_pool_connections', 'PostgreSQL connections open in the pool', () => s.dbPool()?.total ?? null);
  gauge('chat_db_pool_idle', 'Idle PostgreSQL connections in the pool', () => s.dbPool()?.idle ?? null);
  gauge('chat_db_pool_waiting', 'Queries waiting for a PostgreSQL connection', () => s.dbPool()?.waiting ?? null);
  gauge('chat_redis_shards_up', 'Redis shards on the ring', () => s.shards()?.up ?? null);
  gauge('chat_redis_shards', 'Redis shards configured', () => s.shards()?.total ?? null);
  new Counter({
    name: 'chat_redis_shard_failovers_total',
    help: 'Times a Redis shard was taken off the ring',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(s.shards()?.failovers ?? 0);
    },
  });
  const outboxGauges = {
    pending: new Gauge({ name: 'chat_outbox_pending', help: 'Outbox rows not yet processed', registers: [registry] }),
    retrying: new Gauge({
      name: 'chat_outbox_retrying',
      help: 'Pending outbox rows that failed at least once',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'chat_outbox_lag_seconds',
      help: 'Age of the oldest pending outbox row',
      registers: [registry],
    }),
  };

  /** Yoga plugins: Prometheus (requests, durations and errors by operation) and the request's log fields. */
  const plugins: Plugin[] = [
    usePrometheus({
      registry,
      endpoint: false,
      // Every metric named, on or off: the plugin turns on any left out. The ones off cost every
      // request work nobody reads (docs/operations.md lists what is exported): deprecated-field
      // counting walks each document with a TypeInfo, the time summary feeds a t-digest, and the
      // context phase is one more histogram observation.
      metrics: {
        graphql_envelop_request: true,
        graphql_envelop_request_duration: true,
        graphql_envelop_error_result: true,
        graphql_envelop_phase_parse: true,
        graphql_envelop_phase_validate: true,
        graphql_envelop_phase_execute: true,
        graphql_envelop_phase_subscribe: true,
        graphql_envelop_schema_change: true,
        graphql_yoga_http_duration: true,
        graphql_envelop_deprecated_field: false,
        graphql_envelop_request_time_summary: false,
        graphql_envelop_phase_context: false,
        graphql_envelop_execute_resolver: false,
      },
    }),
    {
      onContextBuilding() {
        return ({ context }) => {
          const viewer = (context as { viewer?: { userId: bigint } | null }).viewer;
          const store = logContext.getStore();
          if (store && viewer) store.userId = viewer.userId.toString();
        };
      },
      onExecute({ args }) {
        const store = logContext.getStore();
        if (store && !store.operation) {
          const { document, operationName } = args as { document: DocumentNode; operationName?: string | null };
          const name = getOperationAST(document, operationName)?.name?.value;
          if (name) store.operation = name;
        }
      },
      onParams({ params }) {
        const store = logContext.getStore();
        if (store && params.operationName) store.operation = params.operationName;
      },
      onResultProcess({ result }) {
        for (const r of Array.isArray(result) ? result : [result]) {
          if (!r || typeof r !== 'object' || !('errors' in r) || !Array.isArray(r.errors)) continue;
          for (const e of r.errors as { extensions?: { code?: unknown } }[]) {
            const code = typeof e.extensions?.code === 'string' ? e.extensions.code : 'UNKNOWN';
            errors.inc({ code });
            const store = logContext.getStore();
            if (store) store.errors = [...(store.errors ?? []), code];
          }
        }
      },
    },
  ];

  async function ready(): Promise<{ status: number; body: Record<string, unknown> }> {
    if (deps.draining()) return { status: 503, body: { status: 'draining' } };
    const run = (checks: Record<string, ReadinessCheck>, failed: string) =>
      Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          try {
            return [name, await withTimeout(check(), 2_000), true] as const;
          } catch (err) {
            return [name, `${failed}: ${(err as Error).message}`, false] as const;
          }
        }),
      );
    const [hard, soft] = await Promise.all([run(deps.checks, 'failed'), run(deps.degradable ?? {}, 'degraded')]);
    const ok = hard.every(([, , passed]) => passed);
    const degraded = soft.filter(([, , passed]) => !passed).map(([n]) => n);
    return {
      status: ok ? 200 : 503,
      body: {
        status: ok ? 'ready' : 'not ready',
        checks: Object.fromEntries([...hard, ...soft].map(([n, v]) => [n, v])),
        ...(degraded.length ? { degraded } : {}),
      },
    };
  }

  async function metrics(): Promise<string> {
    const lag = await s.outbox().catch(() => null);
    if (lag) {
      outboxGauges.pending.set(lag.pending);
      outboxGauges.retrying.set(lag.retrying);
      outboxGauges.lag.set(lag.lagMs / 1000);
    }
    return registry.metrics();
  }

  return {
    registry,
    plugins,
    ready,
    metrics,
    /** GET /ready: 200 when every check passes, 503 while draining or when one fails. */
    readyRoute: (_req: IncomingMessage, res: ServerResponse) =>
      ready().then((r) => sendJson(res, r.status, r.body, { 'cache-control': 'no-store' })),
    /** GET /metrics: the Prometheus text format. */
    metricsRoute: async (_req: IncomingMessage, res: ServerResponse) => {
      const text = await metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.end(text);
    },
    /**
     * Wraps the HTTP listener: the request id (from `x-request-id` or made up, echoed back), the
     * log context every line of the request carries, and one access line per GraphQL request.
     */
    wrap(listener: (req: IncomingMessage, res: ServerResponse) => void) {
      return (req: IncomingMessage, res: ServerResponse) => {
        const incoming = req.headers['x-request-id'];
        const reqId = typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
        res.setHeader('x-request-id', reqId);
        const store: RequestLogFields = { reqId };
        const started = performance.now();
        if ((req.url ?? '/').split('?')[0] === '/graphql') {
          res.once('finish', () => {
            const { reqId: _id, ...fields } = store;
            logContext.run(store, () =>
              log.info(
                { ...fields, method: req.method, status: res.statusCode, ms: Math.round(performance.now() - started) },
                'request',
              ),
            );
          });
        }
        logContext.run(store, () => listener(req, res));
      };
    },
  };
}
