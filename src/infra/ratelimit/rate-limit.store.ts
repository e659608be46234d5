import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LimitDecision, LimitRule, RateLimitStore } from './rate-limit.port.js';

const PREFIX = 'rl';

function decision(res: RateLimiterRes, allowed: boolean): LimitDecision {
  return { allowed, remaining: allowed ? res.remainingPoints : 0, resetMs: Math.max(0, res.msBeforeNext) };
}

/** Shared by both adapters: rate-limiter-flexible limiters, one per rule (and per Redis client). */
function storeOver(kind: 'memory' | 'redis', limiterFor: (rule: LimitRule, key: string) => RateLimiterAbstract) {
  return {
    kind,
    async consume(rule, key, points = 1) {
      const limiter = limiterFor(rule, key);
      try {
        return decision(await limiter.consume(key, points), true);
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        return decision(err, false);
      }
    },
    async used(rule, key) {
      const res = await limiterFor(rule, key).get(key);
      return res ? { used: res.consumedPoints, resetMs: Math.max(0, res.msBeforeNext) } : { used: 0, resetMs: 0 };
    },
    async block(rule, key, seconds) {
      await limiterFor(rule, key).block(key, seconds);
    },
    async reset(rule, key) {
      await limiterFor(rule, key).delete(key);
    },
  } satisfies RateLimitStore;
}

const memoryLimiter = (rule: LimitRule) =>
  new RateLimiterMemory({ keyPrefix: `${PREFIX}:${rule.name}`, points: rule.points, duration: rule.seconds });

/** Counters in this process. */
export function createMemoryRateLimitStore(): RateLimitStore {
  const limiters = new Map<string, RateLimiterAbstract>();
  const cacheKey = (rule: LimitRule) => `${rule.name}:${rule.points}/${rule.seconds}`;
  return storeOver('memory', (rule) => {
    let limiter = limiters.get(cacheKey(rule));
    if (!limiter) limiters.set(cacheKey(rule), (limiter = memoryLimiter(rule)));
    return limiter;
  });
}

/**
 * Counters in Redis: each key on the shard the ring routes it to (`clientFor`), so all gateways
 * share them. While no shard is reachable, counting falls back to this process (insurance limiter).
 */
export function createRedisRateLimitStore(clientFor: (key: string) => Redis | null): RateLimitStore {
  const limiters = new WeakMap<Redis, Map<string, RateLimiterAbstract>>();
  const fallback = new Map<string, RateLimiterAbstract>();
  return storeOver('redis', (rule, key) => {
    const id = `${rule.name}:${rule.points}/${rule.seconds}`;
    const client = clientFor(`${PREFIX}:${rule.name}:${key}`);
    if (!client) {
      let limiter = fallback.get(id);
      if (!limiter) fallback.set(id, (limiter = memoryLimiter(rule)));
      return limiter;
    }
    let byRule = limiters.get(client);
    if (!byRule) limiters.set(client, (byRule = new Map<string, RateLimiterAbstract>()));
    let limiter = byRule.get(id);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: client,
        keyPrefix: `${PREFIX}:${rule.name}`,
        points: rule.points,
        duration: rule.seconds,
        rejectIfRedisNotReady: true,
        insuranceLimiter: memoryLimiter(rule),
      });
      byRule.set(id, limiter);
    }
    return limiter;
  });
}
