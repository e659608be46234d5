/**
 * Wrong results of a benchmark run, collected while it runs and printed at the end, after the
 * report tables (so the numbers are still shown), with a non-zero exit code.
 *
 * A failure is a result that is wrong: a send error, a duplicate or missing delivery, a count that
 * disagrees with the database, a message never indexed. A goal missed (too slow, too many bytes)
 * is a result to report as MISS, not a failure: the benchmark measured it correctly.
 */
export class Failures {
  readonly list: string[] = [];

  constructor(private readonly bench: string) {}

  /** Records `message` when `ok` is false; returns `ok`. */
  check(ok: boolean, message: string | (() => string)): boolean {
    if (!ok) this.add(typeof message === 'string' ? message : message());
    return ok;
  }

  add(...messages: string[]): void {
    this.list.push(...messages);
  }

  get failed(): boolean {
    return this.list.length > 0;
  }

  /**
   * Prints the failures (or that there were none) to stdout, and sets process.exitCode = 1 when
   * there are any. Call it last, after the report.
   */
  report(): void {
    if (this.list.length === 0) {
      process.stdout.write(`\n${this.bench}: no wrong results\n`);
      return;
    }
    const lines = this.list.map((f, i) => `  ${i + 1}. ${f}`);
    process.stdout.write(
      `\n${this.bench}: FAILED, ${this.list.length} wrong result${this.list.length === 1 ? '' : 's'}:\n${lines.join('\n')}\n`,
    );
    process.exitCode = 1;
  }
}
