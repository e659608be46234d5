/** An integer benchmark knob from the environment (underscores allowed: 10_000), at least `min`. */
export function envInt(name: string, def: number, min = 1): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  return n;
}

/**
 * The environment a benchmark builds the real gateway with (in its own process, or a child's):
 * production settings on `databaseUrl`, a free loopback port, warnings only, and no rate limits
 * (the load comes from a few users on one address: rate limits would measure themselves);
 * `overrides` on top.
 */
export function gatewayEnv(databaseUrl: string, overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    // Production refuses a per-process secret for fs file URLs (FILE_SIGNING_SECRET)
    FILE_SIGNING_SECRET: process.env.FILE_SIGNING_SECRET ?? 'bench-file-signing-secret-0123456789',
    RATE_LIMITS_ENABLED: 'false',
    ...overrides,
  };
}
