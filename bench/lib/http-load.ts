/**
 * A bounded, closed-loop HTTP load runner: `concurrency` clients, each with its own keep-alive
 * connection, send requests back to back until exactly `requests` have completed (after a separate
 * warm-up phase of `warmup` requests that is not measured). Latency is measured per request with
 * `performance.now()` from just before the request is written to the end of the response body.
 *
 * It can run in-process (`runHttpLoad`) or in a child process (`startLoadWorker`), so the load
 * generator does not share an event loop (or a core) with the server it measures. Only loopback
 * targets are accepted.
 *
 * Bounded by construction: a fixed number of requests, a per-request timeout, and an overall
 * deadline after which no new request is started.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { pathToFileURL, fileURLToPath } from 'node:url';

export interface ResponseCheck {
  /** Parse the body as a GraphQL response: `errors` or a missing `data` count as errors. */
  graphql?: boolean;
  /** With `graphql`: a path under `data`, e.g. ['messages', 'edges'] ... */
  path?: (string | number)[];
  /** ... whose array length must equal this (e.g. the page size). */
  length?: number;
}

export interface LoadJob {
  name: string;
  url: string;
  method?: 'POST' | 'GET';
  /** The same body for every request. */
  body?: string;
  headers?: Record<string, string>;
  /** Client i also sends clientHeaders[i % n] (e.g. one bearer token per simulated user). */
  clientHeaders?: Record<string, string>[];
  concurrency: number;
  requests: number;
  warmup?: number;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** No new request starts after this; default 300 s. */
  maxDurationMs?: number;
  check?: ResponseCheck;
}

export interface LoadResult {
  name: string;
  /** Measured requests completed (ok + errors). */
  requests: number;
  errors: number;
  /** Up to 5 distinct error descriptions. */
  errorSamples: string[];
  /** One entry per measured request, in completion order (milliseconds). */
  latenciesMs: number[];
  /** Wall time of the measured phase. */
  durationMs: number;
  throughput: number;
  /** True when the deadline stopped the run before `requests` completed. */
  truncated: boolean;
  bytesReceived: number;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/;

export function assertLoopback(url: string): URL {
  const u = new URL(url);
  if (!LOOPBACK.test(u.hostname)) throw new Error(`load target must be a loopback address, got ${u.hostname}`);
  if (u.protocol !== 'http:') throw new Error(`load target must be http:, got ${u.protocol}`);
  return u;
}

/**
 * Runs `fn(i)` for i in [0, count) with at most `concurrency` calls in flight; each of the
 * `concurrency` loops is one "client" (its index is passed as `client`). Stops starting new calls
 * after `deadline` (performance.now() timestamp). Returns the number of calls started.
 */
export async function runBounded(
  count: number,
  concurrency: number,
  fn: (i: number, client: number) => Promise<void>,
  deadline = Number.POSITIVE_INFINITY,
): Promise<number> {
  let next = 0;
  const loops: Promise<void>[] = [];
  for (let c = 0; c < Math.min(concurrency, count); c++) {
    loops.push(
      (async () => {
        while (next < count && performance.now() < deadline) {
          const i = next++;
          await fn(i, c);
        }
      })(),
    );
  }
  await Promise.all(loops);
  return next;
}

interface Outcome {
  ok: boolean;
  error?: string;
  bytes: number;
}

function requestOnce(
  agent: http.Agent,
  u: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | null,
  timeoutMs: number,
): Promise<{ status: number; text: string; bytes: number } | { error: string }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: { status: number; text: string; bytes: number } | { error: string }) => {
      if (!done) {
        done = true;
        resolve(v);
      }
    };
    const req = http.request(
      {
        agent,
        hostname: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          finish({ status: res.statusCode ?? 0, text: buf.toString('utf8'), bytes: buf.length });
        });
        res.on('error', (err) => finish({ error: `response: ${err.message}` }));
      },
    );
    req.setTimeout(timeoutMs, () => {
      req.destroy(new Error(`timeout after ${timeoutMs} ms`));
    });
    req.on('error', (err) => finish({ error: `request: ${err.message}` }));
    if (body) req.end(body);
    else req.end();
  });
}

function checkResponse(status: number, text: string, check: ResponseCheck | undefined): string | null {
  if (status !== 200) return `HTTP ${status}: ${text.slice(0, 200)}`;
  if (!check?.graphql) return null;
  let json: { data?: unknown; errors?: { message?: string; extensions?: { code?: string } }[] };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    return `invalid JSON: ${text.slice(0, 200)}`;
  }
  if (json.errors && json.errors.length > 0) {
    const e = json.errors[0];
    const code = e?.extensions?.code;
    return `GraphQL error: ${code ? `${code}: ` : ''}${e?.message ?? JSON.stringify(e)}`;
  }
  if (json.data == null) return 'GraphQL response without data';
  if (check.path) {
    let v: unknown = json.data;
    for (const key of check.path) v = v == null ? undefined : (v as Record<string | number, unknown>)[key];
    if (check.length !== undefined) {
      if (!Array.isArray(v)) return `data.${check.path.join('.')} is not a list`;
      if (v.length !== check.length)
        return `data.${check.path.join('.')} has ${v.length} items, expected ${check.length}`;
    } else if (v === undefined) {
      return `data.${check.path.join('.')} is missing`;
    }
  }
  return null;
}

/** Runs one job in this process. */
export async function runHttpLoad(job: LoadJob): Promise<LoadResult> {
  const u = assertLoopback(job.url);
  if (!(job.concurrency >= 1 && job.requests >= 1)) throw new RangeError('concurrency and requests must be >= 1');
  const method = job.method ?? (job.body ? 'POST' : 'GET');
  const body = job.body ? Buffer.from(job.body) : null;
  const timeoutMs = job.timeoutMs ?? 10_000;
  const deadline = performance.now() + (job.maxDurationMs ?? 300_000);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency, maxFreeSockets: job.concurrency });
  const headersFor = (client: number) => ({
    ...job.headers,
    ...(job.clientHeaders && job.clientHeaders.length > 0 ? job.clientHeaders[client % job.clientHeaders.length] : {}),
  });
  const clientHeaders = Array.from({ length: job.concurrency }, (_, c) => headersFor(c));

  const one = async (client: number): Promise<Outcome> => {
    const r = await requestOnce(agent, u, method, clientHeaders[client] as Record<string, string>, body, timeoutMs);
    if ('error' in r) return { ok: false, error: r.error, bytes: 0 };
    const problem = checkResponse(r.status, r.text, job.check);
    return problem ? { ok: false, error: problem, bytes: r.bytes } : { ok: true, bytes: r.bytes };
  };

  try {
    // Warm-up: open the connections, warm the server's JIT, caches and pools. Not measured, but
    // errors here mean the measured phase would fail too, so they are reported.
    const warmErrors = new Set<string>();
    let warmErrorCount = 0;
    await runBounded(
      job.warmup ?? 0,
      job.concurrency,
      async (_i, client) => {
        const o = await one(client);
        if (!o.ok) {
          warmErrorCount++;
          if (warmErrors.size < 5 && o.error) warmErrors.add(o.error);
        }
      },
      deadline,
    );

    const latencies = new Float64Array(job.requests);
    let n = 0;
    let errors = warmErrorCount;
    let bytes = 0;
    const samples = new Set<string>(warmErrors);
    const t0 = performance.now();
    await runBounded(
      job.requests,
      job.concurrency,
      async (_i, client) => {
        const start = performance.now();
        const o = await one(client);
        latencies[n++] = performance.now() - start;
        bytes += o.bytes;
        if (!o.ok) {
          errors++;
          if (samples.size < 5 && o.error) samples.add(o.error);
        }
      },
      deadline,
    );
    const durationMs = performance.now() - t0;
    return {
      name: job.name,
      requests: n,
      errors,
      errorSamples: [...samples],
      latenciesMs: Array.from(latencies.subarray(0, n)),
      durationMs,
      throughput: (n / durationMs) * 1000,
      truncated: n < job.requests,
      bytesReceived: bytes,
    };
  } finally {
    agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Child-process mode

type ToChild = { type: 'run'; id: number; job: LoadJob };
type FromChild =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: LoadResult }
  | { type: 'error'; id: number; message: string };

export interface LoadWorker {
  run(job: LoadJob): Promise<LoadResult>;
  close(): Promise<void>;
  readonly pid: number | undefined;
}

/** Forks this module as a load-generator process (via tsx) and returns a handle to it. */
export async function startLoadWorker(): Promise<LoadWorker> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  let exited = false;
  let nextId = 1;
  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  child.on('exit', (code, signal) => {
    exited = true;
    failAll(new Error(`load worker exited (code ${code}, signal ${signal})`));
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('load worker did not start within 30 s')), 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('message', (raw) => {
      const msg = raw as FromChild;
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (msg.type === 'result') {
        pending.get(msg.id)?.resolve(msg.result);
        pending.delete(msg.id);
      } else if (msg.type === 'error') {
        pending.get(msg.id)?.reject(new Error(`load worker: ${msg.message}`));
        pending.delete(msg.id);
      }
    });
  }).catch((err: unknown) => {
    child.kill();
    throw err;
  });
  return {
    pid: child.pid,
    run(job) {
      if (exited) return Promise.reject(new Error('load worker has exited'));
      const id = nextId++;
      return new Promise<LoadResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ type: 'run', id, job } satisfies ToChild);
      });
    },
    async close() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.send) {
  const send = (m: FromChild) => process.send?.(m);
  process.on('message', (raw) => {
    const msg = raw as ToChild;
    if (msg.type !== 'run') return;
    runHttpLoad(msg.job).then(
      (result) => send({ type: 'result', id: msg.id, result }),
      (err: unknown) => send({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) }),
    );
  });
  // The parent closing the IPC channel is the signal to exit.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}
