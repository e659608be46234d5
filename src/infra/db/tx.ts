import type { PrismaClient, Tx } from './database.js';

const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

function sqlState(err: unknown): string | undefined {
  // Driver adapters surface the PostgreSQL SQLSTATE in different places; look in the usual ones.
  const e = err as {
    code?: string;
    meta?: { driverAdapterError?: { cause?: { originalCode?: string; code?: string } } };
    cause?: { code?: string };
  };
  return e?.meta?.driverAdapterError?.cause?.originalCode ?? e?.cause?.code ?? e?.code;
}

/**
 * Runs `fn` in one transaction, retrying serialization failures and deadlocks a few times.
 * The one place transactions are opened for domain writes.
 */
export async function withTx<T>(prisma: PrismaClient, fn: (tx: Tx) => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await prisma.$transaction(fn, { maxWait: 5_000, timeout: 15_000 });
    } catch (err) {
      const state = sqlState(err);
      if (i >= attempts || !state || !RETRYABLE.has(state)) throw err;
      await new Promise((r) => setTimeout(r, 5 * i + Math.random() * 10));
    }
  }
}

/** True when err is a unique-constraint violation (Prisma P2002 or SQLSTATE 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === 'P2002' || sqlState(err) === '23505';
}
