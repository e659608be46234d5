import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/**
 * Fields of the request being served (its id above all), added to every log line written while
 * it runs, whichever module writes it. The HTTP entry point opens the context (src/gateway/ops.ts).
 */
export const logContext = new AsyncLocalStorage<RequestLogFields>();

/** The fields of the request being served: its id on every line, the rest on its access line. */
export interface RequestLogFields {
  reqId: string;
  operation?: string;
  userId?: string;
  errors?: string[];
}

/** `destination`: where lines go (standard output by default; tests read them back). */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: undefined,
    mixin: () => {
      const store = logContext.getStore();
      return store ? { reqId: store.reqId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
