import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface Closed {
  code: number;
  reason: string;
}

/** The official graphql-ws client over a real WebSocket, authenticated in connection_init. */
export function connect(httpUrl: string, token: string | null, opts: { headers?: Record<string, string> } = {}) {
  let closed: (c: Closed) => void;
  const closedP = new Promise<Closed>((r) => (closed = r));
  const client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: class extends WebSocket {
      constructor(url: string, protocols: string | string[]) {
        super(url, protocols, { headers: opts.headers });
      }
    },
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: false,
    on: {
      closed: (e) => closed({ code: (e as { code: number }).code, reason: String((e as { reason: string }).reason) }),
    },
    onNonLazyError: () => {},
  });
  return { client, closed: closedP, dispose: () => client.dispose() };
}

export class Subscription<R> {
  readonly events: R[] = [];
  readonly errors: unknown[] = [];
  completed = false;
  private waiters: (() => void)[] = [];
  private readonly stop: () => void;

  constructor(client: WsClient, query: string, variables: Record<string, unknown>) {
    this.stop = client.subscribe<R>(
      { query, variables },
      {
        next: (r: ExecutionResult<R>) => {
          if (r.errors) this.errors.push(...r.errors);
          if (r.data) this.events.push(r.data);
          this.notify();
        },
        error: (e) => {
          this.errors.push(...(Array.isArray(e) ? (e as unknown[]) : [e]));
          this.completed = true;
          this.notify();
        },
        complete: () => {
          this.completed = true;
          this.notify();
        },
      },
    );
  }

  private notify() {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** Waits until `check` holds (re-checked on every event), failing after `ms`. */
  async until(check: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${what}; events: ${JSON.stringify(this.events).slice(0, 2000)} errors: ${JSON.stringify(this.errors)}`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  count(n: number, ms?: number) {
    return this.until(() => this.events.length >= n, ms, `${n} events`);
  }

  unsubscribe() {
    this.stop();
  }
}

export function subscribe<R, V>(client: WsClient, doc: TypedDocumentNode<R, V>, variables: V): Subscription<R> {
  return new Subscription<R>(client, print(doc), variables ?? {});
}

/** One query or mutation over the socket. */
export async function over<R, V>(
  client: WsClient,
  doc: TypedDocumentNode<R, V>,
  variables: V,
): Promise<ExecutionResult<R>> {
  return new Promise((resolve, reject) => {
    let result: ExecutionResult<R> | undefined;
    client.subscribe<R>(
      { query: print(doc), variables: variables ?? {} },
      { next: (r) => (result = r as ExecutionResult<R>), error: reject, complete: () => resolve(result!) },
    );
  });
}
