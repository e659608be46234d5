import { loadConfig, ConfigError } from './config.js';
import { buildApp } from './app.js';
import { createLogger } from './logger.js';
import { createDatabase } from './infra/db/database.js';
import { migrate } from './infra/db/migrator.js';
import { isSearchCommand, runSearchCommand } from './cli/search.commands.js';
import cluster from 'node:cluster';
import { format } from 'node:util';
import { createServer as createNetServer } from 'node:net';

/** `--gateways N` (or GATEWAYS=N): how many gateway processes share the port. */
function gatewaysArg(argv: string[]): { count: number; rest: string[] } {
  const i = argv.indexOf('--gateways');
  const raw = i >= 0 ? argv[i + 1] : process.env.GATEWAYS;
  const rest = i >= 0 ? [...argv.slice(0, i), ...argv.slice(i + 2)] : argv;
  const count = raw === undefined ? 1 : Number(raw);
  if (!Number.isInteger(count) || count < 1 || count > 64)
    throw new ConfigError('--gateways takes a whole number from 1 to 64');
  return { count, rest };
}

/**
 * The primary of `--gateways N`: migrates once, then forks N gateway processes that share the
 * port (node:cluster) and restarts any that die. They need the shared services: PostgreSQL for
 * data and the Redis ring for events, presence and snowflake worker ids.
 */
async function runPrimary(count: number) {
  const config = loadConfig();
  const log = createLogger(config);
  if (config.database.kind !== 'postgres' || config.pubsub.kind !== 'redis') {
    throw new ConfigError(
      '--gateways N > 1 needs DATABASE_URL (PostgreSQL) and REDIS_URLS: gateway processes share them',
    );
  }
  const db = await createDatabase(config.database, log);
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  log.info({ gateways: count, pid: process.pid, node: process.version }, 'starting gateways');
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < count; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error(`gateway ${worker.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(fork, 500);
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), config.shutdown.timeoutMs + 1_000).unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Fails with one line when host:port cannot be listened on (in use, or not an address of this machine). */
async function assertPortFree(host: string, port: number) {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ConfigError(
          err.code === 'EADDRINUSE'
            ? `port ${port} is already in use on ${host} (another server running? set PORT)`
            : `cannot listen on ${host}:${port}: ${err.message} (check HOST and PORT)`,
        ),
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** One line for the usual reasons a database cannot be reached, instead of a stack trace. */
function databaseProblem(err: unknown): string | null {
  const e = err as { code?: string; message?: string };
  const codes: Record<string, string> = {
    ECONNREFUSED: 'nothing is listening there',
    ENOTFOUND: 'the host name does not resolve',
    ETIMEDOUT: 'the connection timed out',
    '28P01': 'the password is wrong',
    '28000': 'the role is not allowed to connect',
    '3D000': 'the database does not exist',
  };
  const why = e.code ? codes[e.code] : undefined;
  return why ? `cannot connect to DATABASE_URL: ${why} (${e.message ?? e.code})` : null;
}

/**
 * Entry point: `serve` (default), `migrate`, or the search/outbox commands `worker`, `reindex`,
 * `outbox:status` (src/cli/search.commands.ts). Parses config and calls the composition root.
 */
async function main(args: string[]) {
  const { count: gateways, rest: argv } = gatewaysArg(args);
  const command = argv[0] ?? 'serve';
  if (command === 'serve' && gateways > 1 && cluster.isPrimary) return runPrimary(gateways);
  const config = loadConfig();
  const log = createLogger(config);
  if (command === 'migrate') {
    const db = await createDatabase(config.database, log);
    try {
      const r = await migrate(db);
      process.stdout.write(
        `${r.applied.length ? `applied: ${r.applied.join(', ')}` : `up to date (${r.alreadyApplied} migrations)`}\n`,
      );
    } finally {
      await db.close();
    }
    return;
  }
  if (isSearchCommand(command)) {
    await runSearchCommand(command, config, log, argv.slice(1));
    return;
  }
  if (command !== 'serve')
    throw new ConfigError(`unknown command "${command}" (expected serve, migrate, worker, reindex or outbox:status)`);
  // A busy port is found before any migration runs (start() would find it only after them).
  await assertPortFree(config.host, config.port);
  const app = await buildApp(config, { log });
  const { url } = await app.start();
  log.info({ url, database: config.database.kind, node: process.version, pid: process.pid }, 'listening');
  process.stdout.write(
    `Chat API ready at ${url} on Node ${process.version}${config.graphql.graphiql ? ' (GraphiQL: open it in a browser)' : ''}${cluster.isWorker ? ` [gateway pid ${process.pid}]` : ''}\n`,
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, timeoutMs: config.shutdown.timeoutMs }, 'shutting down: draining');
    setTimeout(() => {
      log.error({ timeoutMs: config.shutdown.timeoutMs }, 'shutdown took longer than SHUTDOWN_TIMEOUT_MS; exiting');
      process.exit(1);
    }, config.shutdown.timeoutMs).unref();
    app.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // What the terminal shows when the command fails: the message of a configuration mistake, else the error.
  process.stderr.write(`${err instanceof ConfigError ? err.message : (databaseProblem(err) ?? format(err))}\n`);
  process.exit(1);
});
