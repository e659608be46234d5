/**
 * Rate-limit counters: `points` per `seconds` window per key (rate-limiter-flexible's fixed
 * windows). The memory adapter counts in this process; the Redis adapter counts on the ring's
 * shard that owns the key, so every gateway shares one count.
 */
export interface LimitRule {
  /** Stable name: part of the storage key and of the RateLimit-Policy header. */
  name: string;
  points: number;
  seconds: number;
}

export interface LimitDecision {
  allowed: boolean;
  /** Points left in this window (0 when refused). */
  remaining: number;
  /** Until the window resets (when refused: until a retry can succeed). */
  resetMs: number;
}

export interface RateLimitStore {
  readonly kind: 'memory' | 'redis';
  /** Takes `points` from the key's window; refused (and nothing taken) when it would go over. */
  consume(rule: LimitRule, key: string, points?: number): Promise<LimitDecision>;
  /** How many points the key has used in its current window (0 when none). */
  used(rule: LimitRule, key: string): Promise<{ used: number; resetMs: number }>;
  /** Marks the key over its limit for `seconds` (consume and used answer accordingly). */
  block(rule: LimitRule, key: string, seconds: number): Promise<void>;
  /** Forgets the key's window. */
  reset(rule: LimitRule, key: string): Promise<void>;
}
