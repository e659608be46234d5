/**
 * The app as benchmarks run it: buildApp in the bench process, the real HTTP server on a free
 * loopback port, production mode, rate limits off (the load comes from a few users on one
 * address: the limits would measure themselves).
 */
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';

export type BenchApp = Awaited<ReturnType<typeof buildApp>>;

/** The configuration benchmarks start the app with, on `databaseUrl`; `env` overrides. */
export function benchConfig(databaseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    // Production refuses a per-process secret for fs file URLs (FILE_SIGNING_SECRET)
    FILE_SIGNING_SECRET: process.env.FILE_SIGNING_SECRET ?? 'bench-file-signing-secret-0123456789',
    RATE_LIMITS_ENABLED: 'false',
    ...env,
  });
}

/** Builds and starts the app; returns it with its GraphQL URL. */
export async function startBenchApp(config: Config): Promise<{ app: BenchApp; url: string }> {
  const app = await buildApp(config);
  try {
    const { url } = await app.start();
    return { app, url };
  } catch (err) {
    await app.stop().catch(() => {});
    throw err;
  }
}
