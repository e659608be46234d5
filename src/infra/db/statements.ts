/**
 * Counts the SQL statements a process sends, whatever sends them (Prisma through its driver
 * adapter, inside transactions or not, and raw sessions). Tests assert costs with it ("this read
 * took one statement", "an event caused no per-viewer read"): a count, never a stopwatch.
 */
export interface StatementLog {
  /** Statements sent since the database was opened. */
  readonly count: number;
  /** Calls `fn` with the SQL text of every statement from now on; returns the function that stops it. */
  watch(fn: (sql: string) => void): () => void;
  /** Counts (and collects the SQL of) the statements sent while `fn` runs, everyone's included. */
  during<T>(fn: () => Promise<T>): Promise<{ result: T; count: number; sql: string[] }>;
}

export function createStatementLog(): StatementLog & { record(this: void, sql: string): void } {
  let count = 0;
  const watchers = new Set<(sql: string) => void>();
  const log = {
    get count() {
      return count;
    },
    record(sql: string) {
      count++;
      for (const w of watchers) w(sql);
    },
    watch(fn: (sql: string) => void) {
      const own = (sql: string) => fn(sql);
      watchers.add(own);
      return () => void watchers.delete(own);
    },
    async during<T>(fn: () => Promise<T>) {
      const sql: string[] = [];
      const stop = log.watch((s) => sql.push(s));
      try {
        const result = await fn();
        return { result, count: sql.length, sql };
      } finally {
        stop();
      }
    },
  };
  return log;
}

type Recorder = (sql: string) => void;
const COUNTED = new Set(['queryRaw', 'executeRaw', 'executeScript']);

/** Wraps a queryable (adapter or transaction) so each statement is recorded before it is sent. */
function countQueries<T extends object>(target: T, record: Recorder): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (typeof prop === 'string' && COUNTED.has(prop)) {
        return (...args: unknown[]) => {
          const q = args[0] as { sql?: string } | string | undefined;
          record(typeof q === 'string' ? q : (q?.sql ?? ''));
          return fn.apply(obj, args);
        };
      }
      if (prop === 'startTransaction') {
        return async (...args: unknown[]) => countQueries((await fn.apply(obj, args)) as object, record);
      }
      return fn.bind(obj);
    },
  });
}

/**
 * Wraps a Prisma driver adapter factory (PrismaPg, PrismaPGlite): every connection it makes, and
 * every transaction on those, records its statements. Transaction control (BEGIN/COMMIT) is not
 * counted; the statements inside are.
 */
export function countingAdapter<F extends { connect(): Promise<object> }>(factory: F, record: Recorder): F {
  return new Proxy(factory, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (prop === 'connect' || prop === 'connectToShadowDb') {
        return async (...args: unknown[]) => countQueries((await fn.apply(obj, args)) as object, record);
      }
      return fn.bind(obj);
    },
  });
}
