/**
 * CPU profiles of the process a benchmark runs the server in, and where their time goes.
 *
 * `profileCpu(run)` records a V8 CPU profile (the same format as `node --cpu-prof`, loadable in
 * Chrome DevTools) while `run` executes. `bucketize(profile)` attributes every sample to one
 * bucket (auth, parse, validate, execute, logging, metrics, a plugin, yoga's fetch adaptation,
 * Node's HTTP, garbage collection...): the innermost frame on the sample's stack that a specific
 * rule matches wins (so pino called from a resolver counts as logging); a sample no specific rule
 * claims goes to the package of its nearest frame with a source URL. Run as a script, it prints
 * the table for .cpuprofile files:
 *
 *   npx tsx bench/lib/cpu-profile.ts bench/results/history-baseline-32.cpuprofile
 */
import { Session } from 'node:inspector/promises';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Records a CPU profile of this process while `run` executes (sampling every `intervalUs`). */
export async function profileCpu<T>(
  run: () => Promise<T>,
  intervalUs = 250,
): Promise<{ result: T; profile: CpuProfile }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
    await session.post('Profiler.start');
    let result: T;
    try {
      result = await run();
    } catch (err) {
      await session.post('Profiler.stop').catch(() => {});
      throw err;
    }
    const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    return { result, profile };
  } finally {
    session.disconnect();
  }
}

interface Rule {
  bucket: string;
  test: (f: CallFrame) => boolean;
}

const url = (part: string | RegExp) => (f: CallFrame) =>
  typeof part === 'string' ? f.url.includes(part) : part.test(f.url);
const fn = (name: string | RegExp, where: string | RegExp) => (f: CallFrame) =>
  (typeof name === 'string' ? f.functionName === name : name.test(f.functionName)) && url(where)(f);
const any =
  (...tests: ((f: CallFrame) => boolean)[]) =>
  (f: CallFrame) =>
    tests.some((t) => t(f));

/**
 * Work that is one thing wherever it is called from: the innermost frame on a sample's stack that
 * one of these matches decides the sample (pino called from a resolver is logging). Only code that
 * does not wrap the rest of the request belongs here: a wrapper (the request-id listener, yoga's
 * handler, envelop's chain) would claim everything under it, so those are classified by their own
 * frames only (BY_FILE).
 */
export const SPECIFIC: Rule[] = [
  { bucket: 'logging (pino)', test: any(url('/pino'), url('/src/logger.')) },
  {
    bucket: 'metrics (prom-client, usePrometheus)',
    test: any(
      url('/prom-client/'),
      url('/tdigest/'),
      url('/bintrees/'),
      url('plugin-prometheus'),
      url('@envelop/prometheus'),
    ),
  },
  { bucket: 'auth (token hash, cache)', test: any(url('/src/domain/auth/'), url('/src/gateway/context.')) },
  { bucket: 'persisted operations', test: any(url('/src/gateway/persisted.'), url('plugin-persisted-operations')) },
  { bucket: 'rate limits', test: any(url('/src/gateway/rate-limit.'), url('rate-limiter-flexible')) },
  { bucket: 'input guard', test: url('/src/gateway/input-guard.') },
  { bucket: 'nesting pre-scan (lexer, every request)', test: url('/src/gateway/nesting-limit.') },
  { bucket: 'page-size check (limits-explained)', test: url('/src/gateway/limits-explained.') },
  { bucket: 'armor (its validation rules)', test: url('@escape.tech/graphql-armor') },
  { bucket: 'CSRF check', test: url('plugin-csrf-prevention') },
  { bucket: 'parse (graphql-js)', test: fn(/^(parse|parseDocument)$/, /graphql\/language\/parser/) },
  { bucket: 'validate (graphql-js + rules)', test: fn('validate', /graphql\/validation\/validate/) },
  { bucket: 'execute (graphql-js + resolvers)', test: any(url(/graphql\/execution\//), url('/src/graphql/')) },
  {
    bucket: 'yoga body-size limit (a stream pipeline per request)',
    test: any(
      url('use-limit-request-body-size'),
      url('node:internal/streams/pipeline'),
      url('node:stream/promises'),
      url('node-fetch/cjs/TransformStream'),
    ),
  },
  { bucket: 'yoga: reading + JSON-parsing the body', test: url(/graphql-yoga\/.*plugins\/request-parser\//) },
  { bucket: 'yoga: result to JSON Response', test: url(/graphql-yoga\/.*plugins\/result-processor\//) },
  { bucket: 'database driver (pg)', test: any(url('/node_modules/pg/'), url('/pg-pool/'), url('/pg-protocol/')) },
];

/** Node's own modules that are the transport (everything else of Node's counts to its caller). */
const NODE_TRANSPORT =
  /^node:(_http_|net$|internal\/streams\/|internal\/stream_base_commons|internal\/http|stream$|internal\/js_stream_socket|events$)/;

/** The rest, by the nearest frame with a source URL (Node's non-transport modules skipped). */
export const BY_FILE: Rule[] = [
  { bucket: 'Node HTTP / net / streams', test: (f) => NODE_TRANSPORT.test(f.url) },
  { bucket: 'request id + access line (ops wrapper)', test: url('/src/gateway/ops.') },
  {
    bucket: 'yoga (server, fetch API: Request/Response/Headers)',
    test: (f) => /graphql-yoga|@whatwg-node\/(server|node-fetch|fetch)|@graphql-yoga/.test(f.url),
  },
  {
    bucket: 'envelop (plugin chain, instrumentation, promise helpers)',
    test: (f) => /@envelop\/|@graphql-tools\/|@whatwg-node\/promise-helpers|@whatwg-node\/disposablestack/.test(f.url),
  },
  { bucket: 'graphql-js (other)', test: url('/node_modules/graphql/') },
  { bucket: 'router (find-my-way)', test: url('find-my-way') },
  { bucket: 'app (src, other)', test: url('/src/') },
];

export const SPECIAL: Record<string, string> = {
  '(garbage collector)': 'GC',
  '(program)': 'V8 / native (program)',
  '(idle)': 'idle',
  '(root)': 'V8 / native (program)',
};

export interface Buckets {
  /** Busy time (not idle), ms. */
  busyMs: number;
  idleMs: number;
  /** bucket -> ms, busy samples only. */
  ms: Map<string, number>;
  /** Inclusive time of a few entry points (ms): every sample with the frame on its stack. */
  inclusive: Map<string, number>;
}

const INCLUSIVE: Rule[] = [
  {
    bucket: 'yoga handle (fetch adaptation included)',
    test: fn(/handleNodeRequest|requestListener|handleNodeRequestAndResponse/, '@whatwg-node/server'),
  },
  { bucket: 'GraphQL params -> result (processRequest)', test: fn('processRequest', 'graphql-yoga') },
  { bucket: 'graphql parse', test: fn('parse', /graphql\/language\/parser/) },
  { bucket: 'graphql validate', test: fn('validate', /graphql\/validation\/validate/) },
  { bucket: 'graphql execute', test: fn(/^execute$/, /graphql\/execution\/execute/) },
  { bucket: 'auth.authenticate', test: fn('authenticate', '/src/domain/auth/') },
  { bucket: 'pino', test: url('/pino') },
  { bucket: 'prom-client', test: url('/prom-client/') },
];

export function bucketize(profile: CpuProfile): Buckets {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, string>();
  const inclusiveMemo = new Map<number, string[]>();
  const classify = (id: number): string => {
    const hit = memo.get(id);
    if (hit) return hit;
    const leaf = byId.get(id)!;
    let bucket =
      SPECIAL[leaf.callFrame.functionName] && !leaf.callFrame.url ? SPECIAL[leaf.callFrame.functionName] : undefined;
    if (!bucket) {
      for (let cur: number | undefined = id; cur !== undefined && !bucket; cur = parent.get(cur)) {
        const f = byId.get(cur)!.callFrame;
        bucket = SPECIFIC.find((r) => r.test(f))?.bucket;
      }
    }
    if (!bucket) {
      let sawNode = false;
      for (let cur: number | undefined = id; cur !== undefined && !bucket; cur = parent.get(cur)) {
        const f = byId.get(cur)!.callFrame;
        if (!f.url) continue;
        if (f.url.startsWith('node:') && !NODE_TRANSPORT.test(f.url)) {
          sawNode = true;
          continue;
        }
        bucket = BY_FILE.find((r) => r.test(f))?.bucket ?? 'other';
      }
      if (!bucket && sawNode) bucket = 'Node (event loop: microtasks, timers)';
    }
    bucket ??= 'V8 / native (program)';
    memo.set(id, bucket);
    return bucket;
  };
  const inclusiveOf = (id: number): string[] => {
    const hit = inclusiveMemo.get(id);
    if (hit) return hit;
    const found = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      for (const r of INCLUSIVE) if (r.test(f)) found.add(r.bucket);
    }
    const out = [...found];
    inclusiveMemo.set(id, out);
    return out;
  };
  const ms = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  // timeDeltas[i] is the time before sample i; the sample stands for the interval after it.
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const id = profile.samples[i]!;
    const b = classify(id);
    if (b === 'idle') {
      idleMs += dt;
      continue;
    }
    busyMs += dt;
    ms.set(b, (ms.get(b) ?? 0) + dt);
    for (const x of inclusiveOf(id)) inclusive.set(x, (inclusive.get(x) ?? 0) + dt);
  }
  return { busyMs, idleMs, ms, inclusive };
}

/** A Markdown table of the buckets (percent of busy time), largest first. */
export function formatBuckets(b: Buckets, requests?: number): string {
  const perReq = (v: number) => (requests ? ` | ${((v * 1000) / requests).toFixed(1)}` : '');
  const head = requests
    ? '| bucket | % of busy CPU | µs / request |\n|---|---:|---:|'
    : '| bucket | % of busy CPU |\n|---|---:|';
  const rows = [...b.ms.entries()]
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `| ${k} | ${((100 * v) / b.busyMs).toFixed(1)}${perReq(v)} |`);
  const inc = [...b.inclusive.entries()]
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `| ${k} | ${((100 * v) / b.busyMs).toFixed(1)}${perReq(v)} |`);
  return [
    `busy ${b.busyMs.toFixed(0)} ms, idle ${b.idleMs.toFixed(0)} ms${requests ? `, ${requests} requests` : ''}`,
    '',
    'Exclusive (each sample in one bucket):',
    '',
    head,
    ...rows,
    '',
    'Inclusive (samples with the entry point on the stack):',
    '',
    head.replace('bucket', 'entry point'),
    ...inc,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const reqArg = process.argv.find((a) => a.startsWith('--requests='));
  const requests = reqArg ? Number(reqArg.slice('--requests='.length)) : undefined;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    process.stdout.write(`${file}\n${formatBuckets(bucketize(profile), requests)}\n\n`);
  }
}
