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
 * fails to renew (its lease was lost) calls `onLost`: it must stop making ids.
 */
export async function leaseWorkerId(
  redis: () => Redis | null,
  owner: string,
  onLost: (err: Error) => void,
): Promise<WorkerLease> {
  const start = Math.floor(Math.random() * (MAX_WORKER_ID + 1));
  for (let i = 0; i <= MAX_WORKER_ID; i++) {
    const id = (start + i) % (MAX_WORKER_ID + 1);
    const key = `worker-id:${id}`;
    const c = redis();
    if (!c) throw new Error('no live redis shard to lease a worker id from');
    if ((await c.set(key, owner, 'PX', LEASE_MS, 'NX')) !== 'OK') continue;
    const timer = setInterval(async () => {
      try {
        const kept = await redis()?.eval(RENEW, 1, key, owner, LEASE_MS);
        if (kept !== 1) onLost(new Error(`worker id ${id} lease lost`));
      } catch (err) {
        // A shard blip: the lease has 30 s; the next renewal may succeed.
        void err;
      }
    }, RENEW_MS);
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
