/**
 * Command-line entry points for search and the outbox, called by src/main.ts:
 *
 *   worker          consume the outbox in this process only (no HTTP server); run any number of
 *                   them next to gateways started with OUTBOX_WORKER=off
 *   reindex         rebuild the configured backend's index from PostgreSQL, with progress
 *                   [--batch N] (default 2000)
 *   outbox:status   print the outbox lag (pending rows, age of the oldest), in all and per consumer, as JSON
 */
import { parseArgs } from 'node:util';
import { buildApp } from '../app.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

export const SEARCH_COMMANDS = ['worker', 'reindex', 'outbox:status'] as const;
export type SearchCommand = (typeof SEARCH_COMMANDS)[number];

export function isSearchCommand(command: string): command is SearchCommand {
  return (SEARCH_COMMANDS as readonly string[]).includes(command);
}

export async function runSearchCommand(
  command: SearchCommand,
  config: Config,
  log: Logger,
  args: string[],
): Promise<void> {
  // These commands never serve HTTP and never start the inline worker themselves.
  const app = await buildApp({ ...config, outbox: { ...config.outbox, worker: 'off' } }, { log });
  if (command === 'worker') {
    app.outbox.start();
    // The file sweep (abandoned uploads, deleted messages' files) runs where the outbox is consumed.
    const sweep = setInterval(() => {
      app.services.files.sweep().catch((err: unknown) => log.warn({ err }, 'file sweep failed'));
    }, 60_000);
    log.info({ backend: app.searchIndex.kind, node: process.version, pid: process.pid }, 'outbox worker running');
    process.stdout.write(
      `outbox worker running on Node ${process.version} (search backend: ${app.searchIndex.kind}); Ctrl-C stops it\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info({ signal }, 'stopping the outbox worker');
        resolve();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    clearInterval(sweep);
    await app.stop();
    return;
  }
  try {
    if (command === 'outbox:status') {
      const lag = await app.outbox.lag();
      process.stdout.write(
        `${JSON.stringify({ backend: app.searchIndex.kind, kinds: app.outbox.kinds, ...lag, consumers: await app.outbox.lagByConsumer() }, null, 2)}\n`,
      );
      return;
    }
    const { values } = parseArgs({ args, options: { batch: { type: 'string', default: '2000' } }, strict: true });
    const batchSize = Number(values.batch);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 50_000)
      throw new RangeError('--batch must be an integer in 1..50000');
    const tty = process.stderr.isTTY;
    let lastPrint = 0;
    const print = (line: string, final = false) =>
      process.stderr.write(tty ? `\r${line.padEnd(100)}${final ? '\n' : ''}` : `${line}\n`);
    process.stderr.write(`reindex: rebuilding the ${app.searchIndex.kind} search index from the database\n`);
    const r = await app.services.search.reindex({
      batchSize,
      onProgress: ({ done, total, elapsedMs }) => {
        const now = performance.now();
        if (now - lastPrint < (tty ? 200 : 2_000) && done < total) return;
        lastPrint = now;
        const rate = done / Math.max(elapsedMs / 1000, 0.001);
        const eta = rate > 0 ? (total - done) / rate : 0;
        print(
          `reindex: ${done.toLocaleString('en')} / ${total.toLocaleString('en')} messages (${((100 * done) / Math.max(total, 1)).toFixed(1)}%), ${Math.round(rate).toLocaleString('en')}/s, ETA ${formatSeconds(eta)}`,
        );
      },
    });
    print(
      `reindex: done: ${r.indexed.toLocaleString('en')} messages in ${formatSeconds(r.elapsedMs / 1000)}; ${r.caughtUp} changed during the rebuild were re-applied`,
      true,
    );
  } finally {
    await app.stop();
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}
