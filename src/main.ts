import { loadConfig, ConfigError } from './config.js';
import { buildApp } from './app.js';
import { createLogger } from './logger.js';
import { createDatabase } from './infra/db/database.js';
import { migrate } from './infra/db/migrator.js';

/** Entry point: `serve` (default) or `migrate`. Parses config and calls the composition root. */
async function main(argv: string[]) {
  const command = argv[0] ?? 'serve';
  const config = loadConfig();
  const log = createLogger(config);
  if (command === 'migrate') {
    const db = await createDatabase(config.database);
    try {
      const r = await migrate(db);
      console.log(r.applied.length ? `applied: ${r.applied.join(', ')}` : `up to date (${r.alreadyApplied} migrations)`);
    } finally {
      await db.close();
    }
    return;
  }
  if (command !== 'serve') throw new ConfigError(`unknown command "${command}" (expected serve or migrate)`);
  const app = await buildApp(config, { log });
  const { url } = await app.start();
  log.info({ url, database: config.database.kind }, 'listening');
  console.log(`Chat API ready at ${url}${config.graphql.graphiql ? ' (GraphiQL: open it in a browser)' : ''}`);
  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error(err);
  process.exit(1);
});
