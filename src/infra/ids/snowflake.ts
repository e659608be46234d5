/**
 * Snowflake ids: 42 bits of milliseconds since 2015-01-01T00:00:00Z, 10 bits of worker id, 12 bits
 * of sequence. Sortable by time, unique without coordination as long as worker ids are unique.
 *
 * Guarantees, per generator: strictly increasing; up to 4,096 ids per millisecond; never goes
 * backwards when the wall clock steps back (the generator keeps its own logical time, which only
 * moves forward; when a millisecond's 4,096 ids are used up it borrows the next millisecond).
 */
export const SNOWFLAKE_EPOCH_MS = 1_420_070_400_000; // 2015-01-01T00:00:00Z
const WORKER_BITS = 10n;
const SEQUENCE_BITS = 12n;
const MAX_SEQUENCE = (1 << Number(SEQUENCE_BITS)) - 1;
export const MAX_WORKER_ID = (1 << Number(WORKER_BITS)) - 1;

export interface IdGenerator {
  next(): bigint;
}

export function createSnowflake(workerId: number, now: () => number = Date.now): IdGenerator {
  if (!Number.isInteger(workerId) || workerId < 0 || workerId > MAX_WORKER_ID) {
    throw new RangeError(`worker id must be an integer in 0..${MAX_WORKER_ID}, got ${workerId}`);
  }
  const worker = BigInt(workerId) << SEQUENCE_BITS;
  let lastMs = -1;
  let sequence = 0;
  return {
    next() {
      const ms = Math.max(now() - SNOWFLAKE_EPOCH_MS, lastMs);
      if (ms === lastMs) {
        sequence += 1;
        if (sequence > MAX_SEQUENCE) {
          lastMs += 1; // borrow the next millisecond rather than block or repeat
          sequence = 0;
        }
      } else {
        lastMs = ms;
        sequence = 0;
      }
      return (BigInt(lastMs) << (WORKER_BITS + SEQUENCE_BITS)) | worker | BigInt(sequence);
    },
  };
}

export interface SnowflakeParts {
  timestampMs: number;
  workerId: number;
  sequence: number;
}

export function decodeSnowflake(id: bigint): SnowflakeParts {
  return {
    timestampMs: Number(id >> (WORKER_BITS + SEQUENCE_BITS)) + SNOWFLAKE_EPOCH_MS,
    workerId: Number((id >> SEQUENCE_BITS) & BigInt(MAX_WORKER_ID)),
    sequence: Number(id & BigInt(MAX_SEQUENCE)),
  };
}

/** The smallest id that could have been made at `date` (for time-range queries on id order). */
export function snowflakeAt(date: Date): bigint {
  return BigInt(Math.max(0, date.getTime() - SNOWFLAKE_EPOCH_MS)) << (WORKER_BITS + SEQUENCE_BITS);
}

const ID_PATTERN = /^[1-9][0-9]{0,18}$/;
const MAX_ID = (1n << 63n) - 1n;

/** Parses an id string from a client; returns null when it is not a valid snowflake. */
export function parseId(value: string): bigint | null {
  if (!ID_PATTERN.test(value)) return null;
  const id = BigInt(value);
  return id <= MAX_ID ? id : null;
}
