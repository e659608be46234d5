/**
 * Polls `fn` until `done(value)` holds or the deadline passes, and returns the last value (the
 * caller asserts on it, so a timeout fails with the value that was seen). For waiting on
 * asynchronous work such as outbox indexing: never sleep a fixed time in tests.
 */
export async function eventually<T>(
  fn: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (done(v) || performance.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls until `check` passes or `ms` run out (for state that is not an event stream). */
export async function waitUntil(check: () => Promise<boolean> | boolean, ms = 5_000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
