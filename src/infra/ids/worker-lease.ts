import type { Redis } from 'ioredis';
import { MAX_WORKER_ID } from './snowflake.js';

const LEASE_MS = 30_000;
const RENEW_MS = 10_000;
// Renew our lease; if the key is gone (its shard failed over to one that never saw it, or came
// back empty), take it again, unless someone else holds it there.
const RENEW = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1
else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export interface WorkerLease {
  workerId: number;
  release(): Promise<void>;
}

/**
 * Leases a snowflake worker id (0..1023) that no other live process holds: `SET worker-id:N owner
 * NX PX 30000`, renewed every 10 s. A process that dies lets its id go after 30 s. A process that
 * finds its id held by another owner calls `onLost`: it must stop making ids. Failing to reach a
 * shard is not losing the lease.
 */
export async function leaseWorkerId(
  redis: () => Redis | null,
  owner: string,
  onLost: (err: Error) => void,
  timing: { leaseMs?: number; renewMs?: number } = {},
): Promise<WorkerLease> {
  const leaseMs = timing.leaseMs ?? LEASE_MS;
  const renewMs = timing.renewMs ?? RENEW_MS;
  const start = Math.floor(Math.random() * (MAX_WORKER_ID + 1));
  for (let i = 0; i <= MAX_WORKER_ID; i++) {
    const id = (start + i) % (MAX_WORKER_ID + 1);
    const key = `worker-id:${id}`;
    const c = redis();
    if (!c) throw new Error('no live redis shard to lease a worker id from');
    if ((await c.set(key, owner, 'PX', leaseMs, 'NX')) !== 'OK') continue;
    // Only evidence that someone else holds the id gives the lease up: the renewal script answering
    // 0 (the key is held by another owner). No live shard, a timeout or an error is not evidence;
    // the renewal is tried again next time (and re-takes the key if a failover shard lost it).
    const renew = async () => {
      const c = redis();
      if (!c) return;
      const kept = await c.eval(RENEW, 1, key, owner, leaseMs);
      if (kept === 0) onLost(new Error(`worker id ${id} is held by another process`));
    };
    const timer = setInterval(() => {
      renew().catch(() => {
        // A shard blip or a busy process: the lease has 30 s; the next renewal may succeed.
      });
    }, renewMs);
    timer.unref();
    return {
      workerId: id,
      async release() {
        clearInterval(timer);
        await redis()
          ?.eval(RELEASE, 1, key, owner)
          .catch(() => {});
      },
    };
  }
  throw new Error('all 1,024 worker ids are leased');
}
